<#
.SYNOPSIS
    Ingest and query benchmark of the module on the embedded store; appends the figures to bench/RESULTS.md.
.DESCRIPTION
    All figures of one run come from the same machine and the same minutes, so their ratios are meaningful:
    - bare inference: hstool bench-inference (photos decoded beforehand; backbone + head only, parallel as in the module)
    - end to end: Get-ChildItem | Add-HouseVector in a fresh pwsh into a fresh store, with its peak memory
    - query: Find-SimilarHouse on a warm module against the ingested collection, beside Get-HouseEmbedding of the same photo
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string] $Photos,
    [Parameter(Mandatory)] [string] $Tool,
    [string] $Results = (Join-Path $PSScriptRoot 'RESULTS.md')
)
$ErrorActionPreference = 'Stop'
$pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
$work = Join-Path ([IO.Path]::GetTempPath()) "housesim-bench-$PID"
New-Item -ItemType Directory -Force $work | Out-Null
$count = (Get-ChildItem $Photos -Filter *.jpg).Count

Write-Host "Bare inference over $count photos..."
$bare = @{}
dotnet $Tool bench-inference --data $Photos --model (Join-Path $Module 'bin' 'models' 'house.onnx') --count $count |
    ForEach-Object { $k, $v = $_ -split '=', 2; $bare[$k] = [double]$v }

Write-Host 'End to end: Get-ChildItem | Add-HouseVector in a fresh pwsh...'
$ingest = & $pwsh -NoProfile -Command "
    Import-Module '$Module/HouseSimilarity.psd1'
    `$t = Measure-Command { Get-ChildItem '$Photos' -Filter *.jpg | Add-HouseVector -StorePath '$work/houses.db' -Collection bench }
    `$p = Get-Process -Id `$PID
    '{0}|{1}|{2}' -f `$t.TotalSeconds, `$p.PeakWorkingSet64, (Get-HouseCollection bench -StorePath '$work/houses.db').Count
"
$seconds, $peak, $stored = ($ingest | Select-Object -Last 1) -split '\|'
$endToEnd = [double]$stored / [double]$seconds

Write-Host 'Query latency on a warm module...'
$query = & $pwsh -NoProfile -Command "
    Import-Module '$Module/HouseSimilarity.psd1'
    `$photo = Get-ChildItem '$Photos' -Filter *.jpg | Select-Object -First 1
    1..5 | ForEach-Object { Find-SimilarHouse `$photo.FullName -Top 5 -StorePath '$work/houses.db' -Collection bench | Out-Null; Get-HouseEmbedding `$photo.FullName | Out-Null }
    `$n = 40
    `$find = (Measure-Command { 1..`$n | ForEach-Object { Find-SimilarHouse `$photo.FullName -Top 5 -StorePath '$work/houses.db' -Collection bench | Out-Null } }).TotalMilliseconds / `$n
    `$embed = (Measure-Command { 1..`$n | ForEach-Object { Get-HouseEmbedding `$photo.FullName | Out-Null } }).TotalMilliseconds / `$n
    '{0}|{1}' -f `$find, `$embed
"
$findMs, $embedMs = ($query | Select-Object -Last 1) -split '\|'
Remove-Item $work -Recurse -Force

$ratio = $endToEnd / $bare['inference_parallel_images_per_s']
$queryRatio = [double]$findMs / [double]$embedMs
$cpu = (Get-Content /proc/cpuinfo -ErrorAction SilentlyContinue | Select-String '^model name' | Select-Object -First 1) -replace '.*:\s*', ''
$section = @"

## $(Get-Date -Format 'yyyy-MM-dd HH:mm') UTC: $count photos, $([Environment]::ProcessorCount) cores ($cpu)

| measure | value |
|---|---|
| bare inference, parallel ($($bare['parallelism']) callers), photos decoded beforehand | $('{0:N1}' -f $bare['inference_parallel_images_per_s']) images/s |
| bare inference, one caller | $('{0:N1}' -f $bare['inference_sequential_images_per_s']) images/s |
| backbone alone (NuGet preprocess + ResNet18), one caller | $('{0:N1}' -f $bare['backbone_sequential_images_per_s']) images/s |
| **model / backbone time per photo** | **$('{0:N2}' -f ($bare['backbone_sequential_images_per_s'] / $bare['inference_sequential_images_per_s']))** (ceiling 1.2) |
| decode + orient + resize of one photo (one thread) | $('{0:N1}' -f $bare['decode_ms_per_image']) ms |
| Add-HouseVector end to end (pwsh, Get-ChildItem pipeline, embedded store) | $('{0:N1}' -f $endToEnd) images/s ($stored photos in $('{0:N1}' -f [double]$seconds) s) |
| **end to end / bare inference** | **$('{0:N2}' -f $ratio)** (floor 0.7) |
| peak working set of the ingesting pwsh | $('{0:N0}' -f ([double]$peak / 1MB)) MiB |
| Find-SimilarHouse -Top 5, warm, $stored photos | $('{0:N1}' -f [double]$findMs) ms |
| Get-HouseEmbedding of the same photo, warm | $('{0:N1}' -f [double]$embedMs) ms |
| **Find-SimilarHouse / one embedding** | **$('{0:N2}' -f $queryRatio)** (ceiling 1.3) |
"@
if (-not (Test-Path $Results)) {
    Set-Content $Results "# Benchmark results`n`nWritten by ``./build.ps1 -Task Bench`` (bench/Invoke-Benchmark.ps1); newest last. Ratios compare figures of the same run."
}
Add-Content $Results $section
Write-Host $section
