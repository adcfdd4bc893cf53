using System.Collections.Immutable;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace HouseSimilarity.Tools;

/// <summary>
/// Writes the module's MAML help (what Get-Help reads for a binary module) from docs/&lt;Cmdlet&gt;.md (platyPS-like text)
/// and the cmdlet metadata of the built HouseSimilarity.dll: parameter sets, types, positions, pipeline input and
/// aliases come from the [Cmdlet]/[Parameter] attributes, read with System.Reflection.Metadata (nothing is loaded).
/// The markdown gives the text: ## SYNOPSIS, DESCRIPTION, EXAMPLES (### title, ```powershell code, remarks), PARAMETERS
/// (### -Name, text, optionally a ```yaml block with "Default value: x"), INPUTS / OUTPUTS (### type, text), NOTES, RELATED LINKS.
/// Every exported cmdlet needs a doc, and a doc must describe exactly the cmdlet's parameters.
/// </summary>
internal static class HelpBuilder
{
    private static readonly XNamespace Msh = "http://msh", Maml = "http://schemas.microsoft.com/maml/2004/10",
        Command = "http://schemas.microsoft.com/maml/dev/command/2004/10", Dev = "http://schemas.microsoft.com/maml/dev/2004/10";
    private const string AllSets = "__AllParameterSets";

    private sealed record SetInfo(string Set, bool Mandatory, int? Position, bool ByValue, bool ByName);
    private sealed record Param(string Name, string Type, string[] Aliases, bool Globbing, List<SetInfo> Sets, string[] EnumValues)
    {
        public bool IsSwitch => Type.EndsWith(".SwitchParameter", StringComparison.Ordinal);
    }
    private sealed record CmdletMeta(string Verb, string Noun, List<string> Sets, List<Param> Params);
    private sealed record Section(string Title, List<string> Lines);

    /// <summary>hstool make-help: docs folder in, MAML file out; assembly and manifest default to the module folder around it.</summary>
    public static int Run(string docs, string output, string assembly, string manifest)
    {
        string moduleDir = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetFullPath(output)))!;
        assembly = assembly.Length > 0 ? assembly : Path.Combine(moduleDir, "bin", "HouseSimilarity.dll");
        manifest = manifest.Length > 0 ? manifest : Path.Combine(moduleDir, "HouseSimilarity.psd1");
        var errors = new List<string>();
        var cmdlets = ReadCmdlets(assembly);
        var root = new XElement(Msh + "helpItems", new XAttribute("schema", "maml"),
            new XAttribute(XNamespace.Xmlns + "maml", Maml), new XAttribute(XNamespace.Xmlns + "command", Command),
            new XAttribute(XNamespace.Xmlns + "dev", Dev));
        foreach (string name in ExportedCmdlets(manifest))
        {
            string file = Path.Combine(docs, name + ".md");
            if (!cmdlets.TryGetValue(name, out var meta))
                errors.Add($"{manifest} exports {name}, but {assembly} has no such cmdlet.");
            else if (!File.Exists(file))
                errors.Add($"{name} has no help: write {file}.");
            else
                root.Add(BuildCommand(name, meta, File.ReadAllLines(file), file, errors));
        }
        if (errors.Count > 0)
        {
            Console.Error.WriteLine("make-help failed:\n  " + string.Join("\n  ", errors));
            return 1;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        new XDocument(new XDeclaration("1.0", "utf-8", null), root).Save(output);
        Console.WriteLine($"{output}: help for {root.Elements().Count()} cmdlets");
        return 0;
    }

    private static IEnumerable<string> ExportedCmdlets(string manifest)
    {
        var block = Regex.Match(File.ReadAllText(manifest), @"CmdletsToExport\s*=\s*@\(([^)]*)\)");
        if (!block.Success) throw new InvalidDataException($"{manifest} has no CmdletsToExport = @(...).");
        return Regex.Matches(block.Groups[1].Value, @"'([^']+)'").Select(m => m.Groups[1].Value);
    }

    private static XElement BuildCommand(string name, CmdletMeta meta, string[] markdown, string file, List<string> errors)
    {
        var (title, sections) = Parse(markdown);
        if (title != name) errors.Add($"{file}: the title is '# {title}', expected '# {name}'.");
        List<string> Lines(string section) => sections.TryGetValue(section, out var s) ? s : [];
        string synopsis = string.Join(" ", Paras(Lines("SYNOPSIS")));
        if (synopsis.Length == 0) errors.Add($"{file}: ## SYNOPSIS is empty.");
        var paramDocs = Sub(Lines("PARAMETERS")).ToDictionary(s => s.Title.TrimStart('-'), StringComparer.OrdinalIgnoreCase);
        foreach (string doc in paramDocs.Keys.Where(d => meta.Params.All(p => !p.Name.Equals(d, StringComparison.OrdinalIgnoreCase))))
            errors.Add($"{file} documents -{doc}, but {name} has no such parameter.");
        foreach (var p in meta.Params.Where(p => !paramDocs.ContainsKey(p.Name)))
            errors.Add($"{file}: parameter -{p.Name} of {name} is not documented (add '### -{p.Name}' under ## PARAMETERS).");
        var examples = Sub(Lines("EXAMPLES")).ToList();
        if (examples.Count == 0) errors.Add($"{file}: ## EXAMPLES has no '### Example'.");

        XElement Parameter(Param p, SetInfo s, bool inSyntax)
        {
            var doc = paramDocs.GetValueOrDefault(p.Name);
            string pipeline = s.ByValue || s.ByName
                ? $"True ({string.Join(", ", new[] { s.ByValue ? "ByValue" : null, s.ByName ? "ByPropertyName" : null }.OfType<string>())})" : "False";
            string defaultValue = doc?.Lines.Select(l => Regex.Match(l, @"^Default value:\s*(.+)$")).FirstOrDefault(m => m.Success)?.Groups[1].Value.Trim() ?? "None";
            return new XElement(Command + "parameter",
                new XAttribute("required", s.Mandatory ? "true" : "false"), new XAttribute("variableLength", "true"),
                new XAttribute("globbing", p.Globbing ? "true" : "false"), new XAttribute("pipelineInput", pipeline),
                new XAttribute("position", s.Position?.ToString() ?? "named"),
                new XAttribute("aliases", p.Aliases.Length > 0 ? string.Join(", ", p.Aliases) : "none"),
                new XElement(Maml + "name", p.Name),
                Description(doc is null ? [] : Paras(doc.Lines)),
                inSyntax && p.EnumValues.Length > 0 ? new XElement(Command + "parameterValueGroup", p.EnumValues.Select(v =>
                    new XElement(Command + "parameterValue", new XAttribute("required", "false"), new XAttribute("variableLength", "false"), v))) : null,
                inSyntax && p.IsSwitch ? null : new XElement(Command + "parameterValue", new XAttribute("required", s.Mandatory ? "true" : "false"),
                    new XAttribute("variableLength", "false"), ShortName(p.Type)),
                new XElement(Dev + "type", new XElement(Maml + "name", p.Type), new XElement(Maml + "uri")),
                new XElement(Dev + "defaultValue", p.IsSwitch && defaultValue == "None" ? "False" : defaultValue));
        }

        var ordered = paramDocs.Keys.Select(k => meta.Params.FirstOrDefault(p => p.Name.Equals(k, StringComparison.OrdinalIgnoreCase))).OfType<Param>();
        return new XElement(Command + "command",
            new XElement(Command + "details", new XElement(Command + "name", name), new XElement(Command + "verb", meta.Verb),
                new XElement(Command + "noun", meta.Noun), Description([synopsis])),
            Description(Paras(Lines("DESCRIPTION"))),
            new XElement(Command + "syntax", meta.Sets.Select(set => new XElement(Command + "syntaxItem", new XElement(Maml + "name", name),
                meta.Params.Select(p => (p, s: p.Sets.FirstOrDefault(s => s.Set == set) ?? p.Sets.FirstOrDefault(s => s.Set == AllSets)))
                    .Where(x => x.s is not null)
                    .OrderBy(x => x.s!.Position ?? int.MaxValue).ThenBy(x => x.s!.Mandatory ? 0 : 1)
                    .Select(x => Parameter(x.p, x.s!, inSyntax: true))))),
            new XElement(Command + "parameters", ordered.Select(p => Parameter(p, p.Sets[0], inSyntax: false))),
            new XElement(Command + "inputTypes", Sub(Lines("INPUTS")).Select(s => new XElement(Command + "inputType", TypeAndText(s)))),
            new XElement(Command + "returnValues", Sub(Lines("OUTPUTS")).Select(s => new XElement(Command + "returnValue", TypeAndText(s)))),
            new XElement(Maml + "alertSet", new XElement(Maml + "alert", Paras(Lines("NOTES")).Select(t => new XElement(Maml + "para", t)))),
            new XElement(Command + "examples", examples.Select(e => new XElement(Command + "example",
                new XElement(Maml + "title", $"-------------------------- {e.Title} --------------------------"),
                new XElement(Dev + "code", string.Join("\n", Code(e.Lines))),
                new XElement(Dev + "remarks", Paras(e.Lines).Append("").Select(t => new XElement(Maml + "para", t)))))),
            new XElement(Command + "relatedLinks", Lines("RELATED LINKS").Select(l => Regex.Match(l, @"^\[([^\]]+)\]\(([^)]*)\)")).Where(m => m.Success)
                .Select(m => new XElement(Maml + "navigationLink", new XElement(Maml + "linkText", m.Groups[1].Value),
                    new XElement(Maml + "uri", m.Groups[2].Value.StartsWith("http", StringComparison.Ordinal) ? m.Groups[2].Value : "")))));
    }

    private static object[] TypeAndText(Section s) =>
        [new XElement(Dev + "type", new XElement(Maml + "name", s.Title)), Description(Paras(s.Lines))];

    private static XElement Description(IEnumerable<string> paras) => new(Maml + "description", paras.Select(t => new XElement(Maml + "para", t)));

    private static string ShortName(string type) => type[(type.LastIndexOf('.') + 1)..];

    /// <summary>'# Title' and the lines of each '## SECTION' (headings inside ``` fences are code, not headings).</summary>
    private static (string Title, Dictionary<string, List<string>> Sections) Parse(string[] lines)
    {
        string title = "";
        var sections = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        List<string>? current = null;
        bool fenced = false;
        foreach (string line in lines)
        {
            if (line.StartsWith("```", StringComparison.Ordinal)) fenced = !fenced;
            if (!fenced && line.StartsWith("# ", StringComparison.Ordinal)) title = line[2..].Trim();
            else if (!fenced && line.StartsWith("## ", StringComparison.Ordinal)) sections[line[3..].Trim()] = current = [];
            else current?.Add(line);
        }
        return (title, sections);
    }

    /// <summary>The '### ' subsections of a section.</summary>
    private static IEnumerable<Section> Sub(List<string> lines)
    {
        Section? current = null;
        bool fenced = false;
        foreach (string line in lines)
        {
            if (line.StartsWith("```", StringComparison.Ordinal)) fenced = !fenced;
            if (!fenced && line.StartsWith("### ", StringComparison.Ordinal))
            {
                if (current is not null) yield return current;
                current = new Section(line[4..].Trim(), []);
            }
            else current?.Lines.Add(line);
        }
        if (current is not null) yield return current;
    }

    /// <summary>Text paragraphs outside code fences: blank lines and list items ('- ') start a new one; backticks dropped.</summary>
    private static List<string> Paras(IEnumerable<string> lines)
    {
        var paras = new List<string>();
        var current = new List<string>();
        bool fenced = false;
        void Flush() { if (current.Count > 0) paras.Add(string.Join(" ", current).Replace("`", "")); current.Clear(); }
        foreach (string raw in lines)
        {
            string line = raw.Trim();
            if (line.StartsWith("```", StringComparison.Ordinal)) { Flush(); fenced = !fenced; continue; }
            if (fenced) continue;
            if (line.Length == 0 || line.StartsWith("- ", StringComparison.Ordinal)) Flush();
            if (line.Length > 0) current.Add(line);
        }
        Flush();
        return paras;
    }

    /// <summary>The lines of the first code fence (an example's code).</summary>
    private static IEnumerable<string> Code(List<string> lines) =>
        lines.SkipWhile(l => !l.StartsWith("```", StringComparison.Ordinal)).Skip(1).TakeWhile(l => !l.StartsWith("```", StringComparison.Ordinal));

    /// <summary>Every [Cmdlet] type of the assembly with its [Parameter] properties (own and inherited) and parameter sets.</summary>
    private static Dictionary<string, CmdletMeta> ReadCmdlets(string assembly)
    {
        var readers = Directory.GetFiles(Path.GetDirectoryName(Path.GetFullPath(assembly))!, "HouseSimilarity*.dll")
            .Prepend(assembly).Distinct().Select(f => new PEReader(File.OpenRead(f)).GetMetadataReader()).ToList();
        var md = readers[0];
        var names = new TypeNames();
        string[] EnumValues(string type) => readers.SelectMany(r => r.TypeDefinitions.Select(r.GetTypeDefinition)
                .Where(t => names.Name(r, t) == type && !t.BaseType.IsNil && t.BaseType.Kind == HandleKind.TypeReference
                    && r.GetString(r.GetTypeReference((TypeReferenceHandle)t.BaseType).Name) == "Enum")
                .SelectMany(t => t.GetFields().Select(r.GetFieldDefinition).Where(f => f.Attributes.HasFlag(FieldAttributes.Literal))
                    .Select(f => r.GetString(f.Name)))).ToArray();
        var result = new Dictionary<string, CmdletMeta>(StringComparer.OrdinalIgnoreCase);
        foreach (var type in md.TypeDefinitions.Select(md.GetTypeDefinition))
        {
            var found = Attrs(md, type.GetCustomAttributes(), "CmdletAttribute", names).Take(1).ToList();
            if (found.Count == 0) continue;
            var cmdlet = found[0];
            string verb = (string)cmdlet.FixedArguments[0].Value!, noun = (string)cmdlet.FixedArguments[1].Value!;
            var parameters = new List<Param>();
            for (TypeDefinition? t = type; t is { } current; t = current.BaseType.Kind == HandleKind.TypeDefinition
                     ? md.GetTypeDefinition((TypeDefinitionHandle)current.BaseType) : null)
            {
                foreach (var property in current.GetProperties().Select(md.GetPropertyDefinition))
                {
                    var attrs = property.GetCustomAttributes();
                    var sets = Attrs(md, attrs, "ParameterAttribute", names).Select(a => new SetInfo(
                        Named(a, "ParameterSetName") as string ?? AllSets, Named(a, "Mandatory") is true,
                        Named(a, "Position") is int pos && pos >= 0 ? pos : null,
                        Named(a, "ValueFromPipeline") is true, Named(a, "ValueFromPipelineByPropertyName") is true)).ToList();
                    string name = md.GetString(property.Name);
                    if (sets.Count == 0 || parameters.Any(p => p.Name == name)) continue;
                    string propertyType = property.DecodeSignature(names, null).ReturnType;
                    string[] aliases = Attrs(md, attrs, "AliasAttribute", names)
                        .SelectMany(a => (ImmutableArray<CustomAttributeTypedArgument<string>>)a.FixedArguments[0].Value!)
                        .Select(v => (string)v.Value!).ToArray();
                    parameters.Add(new Param(name, propertyType, aliases, Attrs(md, attrs, "SupportsWildcardsAttribute", names).Any(),
                        sets, EnumValues(propertyType)));
                }
            }
            if (Named(cmdlet, "SupportsShouldProcess") is true)
            {
                parameters.Add(new Param("WhatIf", "System.Management.Automation.SwitchParameter", ["wi"], false, [new(AllSets, false, null, false, false)], []));
                parameters.Add(new Param("Confirm", "System.Management.Automation.SwitchParameter", ["cf"], false, [new(AllSets, false, null, false, false)], []));
            }
            var setNames = parameters.SelectMany(p => p.Sets.Select(s => s.Set)).Where(s => s != AllSets);
            if (Named(cmdlet, "DefaultParameterSetName") is string defaultSet) setNames = setNames.Prepend(defaultSet);
            var list = setNames.Distinct().ToList();
            result[$"{verb}-{noun}"] = new CmdletMeta(verb, noun, list.Count > 0 ? list : [AllSets], parameters);
        }
        return result;
    }

    private static IEnumerable<CustomAttributeValue<string>> Attrs(MetadataReader md, CustomAttributeHandleCollection handles, string name, TypeNames names) =>
        handles.Select(md.GetCustomAttribute).Where(a => a.Constructor.Kind == HandleKind.MemberReference
                && md.GetMemberReference((MemberReferenceHandle)a.Constructor).Parent is { Kind: HandleKind.TypeReference } parent
                && md.GetString(md.GetTypeReference((TypeReferenceHandle)parent).Name) == name)
            .Select(a => a.DecodeValue(names));

    private static object? Named(CustomAttributeValue<string> a, string name) => a.NamedArguments.FirstOrDefault(n => n.Name == name).Value;

    /// <summary>Type names as text, for attribute values and property signatures.</summary>
    private sealed class TypeNames : ICustomAttributeTypeProvider<string>, ISignatureTypeProvider<string, object?>
    {
        public string Name(MetadataReader md, TypeDefinition t) => $"{md.GetString(t.Namespace)}.{md.GetString(t.Name)}";
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => "System." + typeCode;
        public string GetSystemType() => "System.Type";
        public string GetSZArrayType(string elementType) => elementType + "[]";
        public string GetTypeFromDefinition(MetadataReader md, TypeDefinitionHandle handle, byte rawTypeKind) => Name(md, md.GetTypeDefinition(handle));
        public string GetTypeFromReference(MetadataReader md, TypeReferenceHandle handle, byte rawTypeKind) =>
            md.GetTypeReference(handle) is var t && t.Namespace.IsNil ? md.GetString(t.Name) : $"{md.GetString(t.Namespace)}.{md.GetString(t.Name)}";
        public string GetTypeFromSerializedName(string name) => name.Split(',')[0];
        public PrimitiveTypeCode GetUnderlyingEnumType(string type) => PrimitiveTypeCode.Int32;
        public bool IsSystemType(string type) => type == "System.Type";
        public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[" + new string(',', shape.Rank - 1) + "]";
        public string GetByReferenceType(string elementType) => elementType;
        public string GetFunctionPointerType(MethodSignature<string> signature) => "System.IntPtr";
        public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) =>
            genericType == "System.Nullable`1" ? typeArguments[0] : $"{genericType.Split('`')[0]}[{string.Join(",", typeArguments)}]";
        public string GetGenericMethodParameter(object? context, int index) => "T";
        public string GetGenericTypeParameter(object? context, int index) => "T";
        public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;
        public string GetPinnedType(string elementType) => elementType;
        public string GetPointerType(string elementType) => elementType + "*";
        public string GetTypeFromSpecification(MetadataReader md, object? context, TypeSpecificationHandle handle, byte rawTypeKind) =>
            md.GetTypeSpecification(handle).DecodeSignature(this, context);
    }
}
