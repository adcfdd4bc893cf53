#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Add-HouseVector over a folder of 10,000 and 100,000 files: the folder is streamed, never listed whole, so the peak
    memory of the ingesting pwsh does not grow with the number of files. Appends its figures to bench/RESULTS.md.
.DESCRIPTION
    The files are empty *.jpg files (each is one "not an image" error, read and refused like a real photo would be
    read), so that the run measures the enumeration, the counting pass for the progress percentage and the
    embedding queue, not the model. For comparison, the same child pwsh lists the folder whole (Get-ChildItem).
    Run from the repository root after ./build.ps1: dotnet tool run pwsh -NoProfile -File bench/Invoke-FolderBenchmark.ps1
#>
param(
    [string] $Module = (Join-Path $PSScriptRoot '..' 'out' 'HouseSimilarity'),
    [int[]] $Counts = @(10000, 100000),
    [string] $Results = (Join-Path $PSScriptRoot 'RESULTS.md')
)
$ErrorActionPreference = 'Stop'
$pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
$work = Join-Path ([IO.Path]::GetTempPath()) "housesim-folder-bench-$PID"
$rows = foreach ($count in $Counts) {
    $folder = Join-Path $work "f$count"
    New-Item -ItemType Directory $folder -Force | Out-Null
    for ($i = 0; $i -lt $count; $i++) { [IO.File]::Create((Join-Path $folder "$i.jpg")).Dispose() }
    # Each measure in a fresh pwsh: its peak working set is that command's alone.
    $measure = {
        param($Script)
        $json = & $pwsh -NoProfile -NonInteractive -Command "`$env:XDG_DATA_HOME = '$work'; Import-Module '$Module'
            `$clock = [Diagnostics.Stopwatch]::StartNew(); $Script; `$s = `$clock.Elapsed.TotalSeconds
            @{ Seconds = `$s; PeakMiB = [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64 / 1MB } | ConvertTo-Json -Compress" 6>$null
        $json | Select-Object -Last 1 | ConvertFrom-Json
    }
    $add = & $measure "Add-HouseVector '$folder' -Collection bench -ErrorAction SilentlyContinue 3>`$null"
    $list = & $measure "`$n = (Get-ChildItem '$folder').Count"
    Remove-Item $folder -Recurse -Force
    [pscustomobject]@{ Count = $count; AddSeconds = $add.Seconds; AddPeak = $add.PeakMiB; ListPeak = $list.PeakMiB }
}
Remove-Item $work -Recurse -Force -ErrorAction SilentlyContinue

$cores = [Environment]::ProcessorCount
$lines = @("", "## $((Get-Date).ToUniversalTime().ToString('yyyy-MM-dd HH:mm')) UTC: Add-HouseVector over a folder, $cores cores", "",
    "Written by ``bench/Invoke-FolderBenchmark.ps1``: empty *.jpg files (each refused as not an image), so the figures are the",
    "folder's enumeration, the counting pass for the percentage and the queue, not the model. Peak working set of a fresh pwsh.", "",
    "| files | Add-HouseVector <folder> | files/s | peak working set | Get-ChildItem <folder> (listed whole), peak |", "|---|---|---|---|---|")
foreach ($r in $rows) {
    $lines += '| {0:N0} | {1:N1} s | {2:N0} | {3:N0} MiB | {4:N0} MiB |' -f $r.Count, $r.AddSeconds, ($r.Count / $r.AddSeconds), $r.AddPeak, $r.ListPeak
}
Add-Content -Path $Results -Value $lines
$lines | Write-Output
