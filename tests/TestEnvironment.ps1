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
