# Shared by the Pester files (dot-sourced in their BeforeAll): the module as ./build.ps1 built it, imported into
# this fresh pwsh -NoProfile, the sample photos with their edited copies, and a maker of bad files.
$root = Split-Path $PSScriptRoot
$modulePath = Join-Path $root 'out' 'HouseSimilarity' 'HouseSimilarity.psd1'
Import-Module $modulePath -Force
$samples = Join-Path $root 'out' 'samples'
$originals = Join-Path $samples 'originals'
$edits = Join-Path $samples 'edits'
$pwshPath = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

# The default store lives under XDG_DATA_HOME: a folder of this run (not TestDrive, which Pester empties after
# each Describe while the store must live through all of them).
function Set-TestDataHome([string] $Name) {
    $env:XDG_DATA_HOME = Join-Path ([IO.Path]::GetTempPath()) "$Name-$PID"
    Remove-Item $env:XDG_DATA_HOME -Recurse -Force -ErrorAction SilentlyContinue
}

# A text file named .jpg, a JPEG cut in half, and one good photo.
function New-BadPhotos([string] $Directory) {
    New-Item -ItemType Directory -Force $Directory | Out-Null
    Set-Content -Path (Join-Path $Directory 'notes.jpg') -Value 'not a photo'
    $bytes = [IO.File]::ReadAllBytes((Join-Path $originals '241_kitchen.jpg'))
    [IO.File]::WriteAllBytes((Join-Path $Directory 'truncated.jpg'), $bytes[0..($bytes.Length / 2)])
    Copy-Item (Join-Path $originals '242_frontal.jpg') (Join-Path $Directory 'good.jpg')
}

# Starts an ingest of the originals (20 times over) in a runspace of this process, waits until -Until says
# enough is stored, then stops it as Ctrl+C does. Returns how long Stop took and whether the ingest had ended.
function Stop-Ingest([string] $Arguments, [scriptblock] $Until) {
    $ps = [powershell]::Create()
    $null = $ps.AddScript("Import-Module '$modulePath'
        1..20 | ForEach-Object { Get-ChildItem '$originals' -Filter *.jpg } | Add-HouseVector $Arguments")
    $async = $ps.BeginInvoke()
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    while (-not (& $Until) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $ps.Stop()
    $result = [pscustomobject]@{ StopSeconds = $clock.Elapsed.TotalSeconds; Completed = $async.IsCompleted }
    $ps.Dispose()
    $result
}

# The Milvus contract server (a strict fake of Milvus's REST API v2; no Milvus runs here), started as a child process
# with authentication on. Returns its address and token; Stop-MilvusContract ends it.
function Start-MilvusContract {
    $dll = Join-Path $root 'out' 'milvus-contract' 'milvus-contract.dll'
    if (-not (Test-Path $dll)) {
        dotnet build (Join-Path $root 'tests' 'MilvusContractServer') -c Release -o (Split-Path $dll) --nologo -v quiet | Out-Null
        if ($LASTEXITCODE -ne 0) { throw 'Building the Milvus contract server failed.' }
    }
    $token = "root:Contract-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
    $info = [Diagnostics.ProcessStartInfo]::new('dotnet')
    foreach ($a in $dll, '--token', $token) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardInput = $true
    $info.RedirectStandardOutput = $true
    $info.UseShellExecute = $false
    $process = [Diagnostics.Process]::Start($info)
    $uri = $process.StandardOutput.ReadLine()
    if ($uri -notlike 'http://127.0.0.1:*') { $process.Kill(); throw "The Milvus contract server did not start: '$uri'." }
    [pscustomobject]@{ Uri = $uri.TrimEnd('/'); Token = $token; Process = $process }
}

function Stop-MilvusContract($Server) {
    if ($Server) {
        $Server.Process.StandardInput.Close()   # it exits at the end of its input
        if (-not $Server.Process.WaitForExit(5000)) { $Server.Process.Kill() }
    }
}
