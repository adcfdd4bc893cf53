using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace HouseSimilarity.MilvusContract;

/// <summary>
/// The subset of Milvus' boolean expression grammar (internal/parser/planparserv2/Plan.g4) this server evaluates:
/// comparisons (== != &lt; &lt;= &gt; &gt;=, either side literal), [not] in [...], like, and/&amp;&amp;, or/||, not/!,
/// parentheses; integer, float, string ("..." or '...' with \" \\ \' \n \t \r \uXXXX escapes) and boolean literals.
/// Anything else is answered with 1100 "cannot parse expression".
/// </summary>
internal sealed class Filter
{
    private readonly Func<Row, bool> _eval;

    private Filter(Func<Row, bool> eval, IReadOnlyList<object>? pkValues)
    {
        _eval = eval;
        PrimaryKeyValues = pkValues;
    }

    /// <summary>Set when the whole expression is <c>pk in [...]</c> or <c>pk == v</c> (Milvus deletes those without a query).</summary>
    public IReadOnlyList<object>? PrimaryKeyValues { get; }

    public bool Matches(Row row) => _eval(row);

    public static Filter? Parse(string expr, Collection coll)
    {
        if (string.IsNullOrWhiteSpace(expr))
        {
            return null;
        }
        try
        {
            var parser = new Parser(Lexer.Tokenize(expr), coll);
            var node = parser.ParseExpression();
            return new Filter(node.Eval, node.PkValues(coll));
        }
        catch (FilterException ex)
        {
            throw Err.Expression(expr, ex.Message);
        }
    }

    private sealed class FilterException(string message) : Exception(message);

    private enum Tok
    {
        Ident, Int, Float, Str, Bool, LParen, RParen, LBracket, RBracket, Comma, Op, And, Or, Not, In, Like, End,
    }

    private readonly record struct Token(Tok Kind, string Text, long I = 0, double D = 0, bool B = false);

    private static class Lexer
    {
        public static List<Token> Tokenize(string s)
        {
            var list = new List<Token>();
            int i = 0;
            while (i < s.Length)
            {
                char c = s[i];
                if (char.IsWhiteSpace(c))
                {
                    i++;
                    continue;
                }
                switch (c)
                {
                    case '(': list.Add(new(Tok.LParen, "(")); i++; continue;
                    case ')': list.Add(new(Tok.RParen, ")")); i++; continue;
                    case '[': list.Add(new(Tok.LBracket, "[")); i++; continue;
                    case ']': list.Add(new(Tok.RBracket, "]")); i++; continue;
                    case ',': list.Add(new(Tok.Comma, ",")); i++; continue;
                }
                if (c is '=' or '!' or '<' or '>' or '&' or '|')
                {
                    string two = i + 1 < s.Length ? s.Substring(i, 2) : c.ToString();
                    switch (two)
                    {
                        case "==": case "!=": case "<=": case ">=":
                            list.Add(new(Tok.Op, two)); i += 2; continue;
                        case "&&": list.Add(new(Tok.And, two)); i += 2; continue;
                        case "||": list.Add(new(Tok.Or, two)); i += 2; continue;
                    }
                    switch (c)
                    {
                        case '<': case '>': list.Add(new(Tok.Op, c.ToString())); i++; continue;
                        case '!': list.Add(new(Tok.Not, "!")); i++; continue;
                    }
                    throw new FilterException($"unexpected character '{c}' at position {i}");
                }
                if (c is '"' or '\'')
                {
                    list.Add(new(Tok.Str, ReadString(s, ref i)));
                    continue;
                }
                if (char.IsAsciiDigit(c) || (c is '-' or '.' && i + 1 < s.Length && (char.IsAsciiDigit(s[i + 1]) || s[i + 1] == '.')))
                {
                    list.Add(ReadNumber(s, ref i));
                    continue;
                }
                if (c == '_' || char.IsAsciiLetter(c))
                {
                    int start = i;
                    while (i < s.Length && (s[i] == '_' || char.IsAsciiLetterOrDigit(s[i])))
                    {
                        i++;
                    }
                    string word = s[start..i];
                    list.Add(word switch
                    {
                        "and" or "AND" => new(Tok.And, word),
                        "or" or "OR" => new(Tok.Or, word),
                        "not" or "NOT" => new(Tok.Not, word),
                        "in" or "IN" => new(Tok.In, word),
                        "like" or "LIKE" => new(Tok.Like, word),
                        "true" or "True" or "TRUE" => new(Tok.Bool, word, B: true),
                        "false" or "False" or "FALSE" => new(Tok.Bool, word, B: false),
                        _ => new(Tok.Ident, word),
                    });
                    continue;
                }
                throw new FilterException($"unexpected character '{c}' at position {i}");
            }
            list.Add(new(Tok.End, "<end>"));
            return list;
        }

        private static string ReadString(string s, ref int i)
        {
            char quote = s[i++];
            var sb = new StringBuilder();
            while (true)
            {
                if (i >= s.Length)
                {
                    throw new FilterException("unterminated string literal");
                }
                char c = s[i++];
                if (c == quote)
                {
                    return sb.ToString();
                }
                if (c != '\\')
                {
                    sb.Append(c);
                    continue;
                }
                if (i >= s.Length)
                {
                    throw new FilterException("unterminated escape sequence");
                }
                char e = s[i++];
                switch (e)
                {
                    case '"': sb.Append('"'); break;
                    case '\'': sb.Append('\''); break;
                    case '\\': sb.Append('\\'); break;
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case 'u':
                        if (i + 4 > s.Length || !int.TryParse(s.AsSpan(i, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int cp))
                        {
                            throw new FilterException("invalid \\u escape");
                        }
                        sb.Append((char)cp);
                        i += 4;
                        break;
                    default:
                        throw new FilterException($"invalid escape sequence \\{e}");
                }
            }
        }

        private static Token ReadNumber(string s, ref int i)
        {
            int start = i;
            if (s[i] == '-')
            {
                i++;
            }
            bool isFloat = false;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.' || s[i] is 'e' or 'E' ||
                   (s[i] is '+' or '-' && s[i - 1] is 'e' or 'E')))
            {
                if (s[i] is '.' or 'e' or 'E')
                {
                    isFloat = true;
                }
                i++;
            }
            string text = s[start..i];
            if (i < s.Length && (char.IsAsciiLetter(s[i]) || s[i] == '_'))
            {
                throw new FilterException($"invalid number literal near '{text}{s[i]}'");
            }
            if (!isFloat)
            {
                if (!long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l))
                {
                    throw new FilterException($"integer literal {text} is out of range");
                }
                return new(Tok.Int, text, I: l);
            }
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || double.IsInfinity(d))
            {
                throw new FilterException($"invalid float literal {text}");
            }
            return new(Tok.Float, text, D: d);
        }
    }

    private enum LitKind { Int, Float, Str, Bool }

    private sealed record Lit(LitKind Kind, long I, double D, string S, bool B)
    {
        public string TypeName => Kind switch { LitKind.Int => "Int64", LitKind.Float => "Double", LitKind.Str => "String", _ => "Bool" };

        public object Value => Kind switch { LitKind.Int => I, LitKind.Float => D, LitKind.Str => S, _ => B };
    }

    /// <summary>A field reference: a schema field, or a key of the dynamic field ($meta).</summary>
    private sealed record FieldRef(FieldDef? Field, int Index, string DynamicKey)
    {
        public string TypeName => Field?.Type.ToString() ?? "JSON";

        public object? Get(Row row)
        {
            if (Field != null)
            {
                return row.Values[Index];
            }
            if (row.Dynamic != null && row.Dynamic.TryGetValue(DynamicKey, out var e))
            {
                return e.ValueKind switch
                {
                    JsonValueKind.String => e.GetString(),
                    JsonValueKind.Number => e.TryGetInt64(out long l) ? l : e.GetDouble(),
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => null,
                };
            }
            return null;
        }
    }

    private abstract class Node
    {
        public abstract bool Eval(Row row);

        public virtual IReadOnlyList<object>? PkValues(Collection c) => null;
    }

    private sealed class AndNode(Node l, Node r) : Node
    {
        public override bool Eval(Row row) => l.Eval(row) && r.Eval(row);
    }

    private sealed class OrNode(Node l, Node r) : Node
    {
        public override bool Eval(Row row) => l.Eval(row) || r.Eval(row);
    }

    private sealed class NotNode(Node inner) : Node
    {
        public override bool Eval(Row row) => !inner.Eval(row);
    }

    private sealed class CmpNode(FieldRef field, string op, Lit lit) : Node
    {
        public override bool Eval(Row row)
        {
            int? cmp = Compare(field.Get(row), lit);
            if (cmp == null)
            {
                return false;
            }
            return op switch
            {
                "==" => cmp == 0,
                "!=" => cmp != 0,
                "<" => cmp < 0,
                "<=" => cmp <= 0,
                ">" => cmp > 0,
                _ => cmp >= 0,
            };
        }

        public override IReadOnlyList<object>? PkValues(Collection c) =>
            field.Field is { IsPrimary: true } && op == "==" ? [lit.Value] : null;
    }

    private sealed class InNode(FieldRef field, List<Lit> values, bool negate) : Node
    {
        public override bool Eval(Row row)
        {
            object? v = field.Get(row);
            if (v == null)
            {
                return false;
            }
            bool found = values.Any(l => Compare(v, l) == 0);
            return negate ? !found : found;
        }

        public override IReadOnlyList<object>? PkValues(Collection c) =>
            field.Field is { IsPrimary: true } && !negate ? values.Select(v => v.Value).Distinct().ToList() : null;
    }

    private sealed class LikeNode(FieldRef field, Regex regex) : Node
    {
        public override bool Eval(Row row) => field.Get(row) is string s && regex.IsMatch(s);
    }

    /// <summary>Compares a stored value with a literal; null when the types are not comparable.</summary>
    private static int? Compare(object? value, Lit lit)
    {
        switch (value)
        {
            case long l when lit.Kind == LitKind.Int:
                return l.CompareTo(lit.I);
            case long l when lit.Kind == LitKind.Float:
                return ((double)l).CompareTo(lit.D);
            case float f when lit.Kind is LitKind.Int or LitKind.Float:
                return ((double)f).CompareTo(lit.Kind == LitKind.Int ? lit.I : lit.D);
            case double d when lit.Kind is LitKind.Int or LitKind.Float:
                return d.CompareTo(lit.Kind == LitKind.Int ? lit.I : lit.D);
            case string s when lit.Kind == LitKind.Str:
                return Utf8Order.Compare(s, lit.S);
            case bool b when lit.Kind == LitKind.Bool:
                return b == lit.B ? 0 : 1;
            default:
                return null;
        }
    }

    private sealed class Parser(List<Token> tokens, Collection coll)
    {
        private int _pos;

        private Token Peek => tokens[_pos];

        private Token Next() => tokens[_pos++];

        public Node ParseExpression()
        {
            var node = ParseOr();
            if (Peek.Kind != Tok.End)
            {
                throw new FilterException($"unexpected token '{Peek.Text}'");
            }
            return node;
        }

        private Node ParseOr()
        {
            var left = ParseAnd();
            while (Peek.Kind == Tok.Or)
            {
                Next();
                left = new OrNode(left, ParseAnd());
            }
            return left;
        }

        private Node ParseAnd()
        {
            var left = ParseUnary();
            while (Peek.Kind == Tok.And)
            {
                Next();
                left = new AndNode(left, ParseUnary());
            }
            return left;
        }

        private Node ParseUnary()
        {
            if (Peek.Kind == Tok.Not)
            {
                Next();
                return new NotNode(ParseUnary());
            }
            return ParsePrimary();
        }

        private Node ParsePrimary()
        {
            var t = Next();
            switch (t.Kind)
            {
                case Tok.LParen:
                    var inner = ParseOr();
                    if (Next().Kind != Tok.RParen)
                    {
                        throw new FilterException("missing ')'");
                    }
                    return inner;
                case Tok.Ident:
                    return ParseAfterField(Resolve(t.Text));
                case Tok.Int or Tok.Float or Tok.Str or Tok.Bool:
                    var lit = ToLit(t);
                    var op = Next();
                    if (op.Kind != Tok.Op)
                    {
                        throw new FilterException($"expected a comparison operator after '{t.Text}', got '{op.Text}'");
                    }
                    var f = Next();
                    if (f.Kind != Tok.Ident)
                    {
                        throw new FilterException("a comparison needs a field on one side");
                    }
                    var field = Resolve(f.Text);
                    string flipped = op.Text switch { "<" => ">", "<=" => ">=", ">" => "<", ">=" => "<=", _ => op.Text };
                    CheckComparable(field, flipped, lit);
                    return new CmpNode(field, flipped, lit);
                default:
                    throw new FilterException($"unexpected token '{t.Text}'");
            }
        }

        private Node ParseAfterField(FieldRef field)
        {
            var t = Next();
            switch (t.Kind)
            {
                case Tok.Op:
                    var lt = Next();
                    if (lt.Kind is not (Tok.Int or Tok.Float or Tok.Str or Tok.Bool))
                    {
                        throw new FilterException($"expected a literal after '{t.Text}', got '{lt.Text}'");
                    }
                    var lit = ToLit(lt);
                    CheckComparable(field, t.Text, lit);
                    return new CmpNode(field, t.Text, lit);
                case Tok.In:
                    return new InNode(field, ParseList(field), negate: false);
                case Tok.Not when Peek.Kind == Tok.In:
                    Next();
                    return new InNode(field, ParseList(field), negate: true);
                case Tok.Like:
                    var p = Next();
                    if (p.Kind != Tok.Str)
                    {
                        throw new FilterException("like needs a string pattern");
                    }
                    if (field.Field != null && field.Field.Type != FieldType.VarChar)
                    {
                        throw new FilterException($"like operation on non-string or no-json field is unsupported: {field.Field.Name}");
                    }
                    return new LikeNode(field, LikeToRegex(p.Text));
                default:
                    throw new FilterException($"unexpected token '{t.Text}' after field '{field.Field?.Name ?? field.DynamicKey}'");
            }
        }

        private List<Lit> ParseList(FieldRef field)
        {
            if (Next().Kind != Tok.LBracket)
            {
                throw new FilterException("in needs a list: [...]");
            }
            var values = new List<Lit>();
            if (Peek.Kind == Tok.RBracket)
            {
                Next();
                return values;
            }
            while (true)
            {
                var t = Next();
                if (t.Kind is not (Tok.Int or Tok.Float or Tok.Str or Tok.Bool))
                {
                    throw new FilterException($"expected a literal in the list, got '{t.Text}'");
                }
                var lit = ToLit(t);
                CheckComparable(field, "==", lit);
                if (field.Field is { IsInteger: true } && lit.Kind == LitKind.Float)
                {
                    throw new FilterException($"value '{t.Text}' in list cannot be casted to {field.TypeName}");
                }
                values.Add(lit);
                var sep = Next();
                if (sep.Kind == Tok.RBracket)
                {
                    return values;
                }
                if (sep.Kind != Tok.Comma)
                {
                    throw new FilterException($"expected ',' or ']' in the list, got '{sep.Text}'");
                }
            }
        }

        private FieldRef Resolve(string name)
        {
            int idx = coll.FieldIndex(name);
            if (idx >= 0)
            {
                var f = coll.Fields[idx];
                if (f.IsVector)
                {
                    throw new FilterException($"vector field {name} is not supported in expressions");
                }
                return new FieldRef(f, idx, string.Empty);
            }
            if (coll.EnableDynamic)
            {
                return new FieldRef(null, -1, name);
            }
            throw new FilterException($"field {name} not exist");
        }

        private static Lit ToLit(Token t) => t.Kind switch
        {
            Tok.Int => new Lit(LitKind.Int, t.I, t.I, string.Empty, false),
            Tok.Float => new Lit(LitKind.Float, 0, t.D, string.Empty, false),
            Tok.Str => new Lit(LitKind.Str, 0, 0, t.Text, false),
            _ => new Lit(LitKind.Bool, 0, 0, string.Empty, t.B),
        };

        private static void CheckComparable(FieldRef field, string op, Lit lit)
        {
            if (field.Field == null)
            {
                return; // dynamic field: types are checked per row
            }
            var f = field.Field;
            bool ok = lit.Kind switch
            {
                LitKind.Int or LitKind.Float => f.IsInteger || f.IsFloating,
                LitKind.Str => f.Type == FieldType.VarChar,
                _ => f.Type == FieldType.Bool && op is "==" or "!=",
            };
            if (!ok)
            {
                throw new FilterException($"comparisons between {f.Type} and {lit.TypeName} are not supported");
            }
        }

        private static Regex LikeToRegex(string pattern)
        {
            var sb = new StringBuilder("^");
            for (int i = 0; i < pattern.Length; i++)
            {
                char c = pattern[i];
                if (c == '\\' && i + 1 < pattern.Length && pattern[i + 1] is '%' or '_')
                {
                    sb.Append(Regex.Escape(pattern[++i].ToString()));
                }
                else if (c == '%')
                {
                    sb.Append(".*");
                }
                else if (c == '_')
                {
                    sb.Append('.');
                }
                else
                {
                    sb.Append(Regex.Escape(c.ToString()));
                }
            }
            sb.Append('$');
            return new Regex(sb.ToString(), RegexOptions.Singleline | RegexOptions.CultureInvariant);
        }
    }
}

/// <summary>Go compares strings byte by byte, that is, UTF-8 order (= code point order, not UTF-16 order).</summary>
internal sealed class Utf8Order : IComparer<string>
{
    public static readonly Utf8Order Instance = new();

    public static int Compare(string a, string b)
    {
        var ea = a.EnumerateRunes();
        var eb = b.EnumerateRunes();
        while (true)
        {
            bool ha = ea.MoveNext();
            bool hb = eb.MoveNext();
            if (!ha || !hb)
            {
                return ha == hb ? 0 : (ha ? 1 : -1);
            }
            int c = ea.Current.Value.CompareTo(eb.Current.Value);
            if (c != 0)
            {
                return c;
            }
        }
    }

    int IComparer<string>.Compare(string? x, string? y) => Compare(x ?? string.Empty, y ?? string.Empty);
}
