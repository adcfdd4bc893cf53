# Loads the compiled cmdlets through a private AssemblyLoadContext, so the module's dependencies
# (ONNX Runtime, ImageSharp, SQLite...) never clash with assemblies pwsh or other modules load.
$loaderType = 'HouseSimilarity.Loader.LoadContext'
$isReload = $true
if (-not ($loaderType -as [type])) {
    $isReload = $false
    Add-Type -Path ([IO.Path]::Combine($PSScriptRoot, 'bin', 'HouseSimilarity.Loader.dll'))
}

$cmdletAssembly = ($loaderType -as [type])::Initialize()
$innerModule = Import-Module -Assembly $cmdletAssembly -PassThru:$isReload

if ($innerModule) {
    # On re-import pwsh reuses the cached assembly module without re-exporting its cmdlets into this one
    # (PowerShell/PowerShell#20710), so export them by hand.
    $addExportedCmdlet = [System.Management.Automation.PSModuleInfo].GetMethod(
        'AddExportedCmdlet', [System.Reflection.BindingFlags]'Instance, NonPublic')
    foreach ($cmdlet in $innerModule.ExportedCmdlets.Values) {
        $addExportedCmdlet.Invoke($ExecutionContext.SessionState.Module, @(, $cmdlet))
    }
}
