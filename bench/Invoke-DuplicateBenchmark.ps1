<#
.SYNOPSIS
    Duplicate-scan benchmark: Find-HouseDuplicate over 100k vectors on the embedded store and on PgVector, with pair
    precision and recall against known copies; appends to bench/RESULTS.md.
.DESCRIPTION
    1. hstool battery-export: the validation houses' photos (241..300) and 26 real edited copies of each (resized,
       recompressed, cropped, recoloured, watermarked, mirrored, rotated, framed, PNG), embedded once per model.
    2. bench/DuplicateBenchmark.cs make: those plus synthetic photos (real ones pushed far away by noise; some with synthetic
       near copies) to -Count, every Id naming its true group, into an embedded store file and a PgVector collection.
    3. For each store, a new pwsh imports the module, warms it up (the model and calibration load on a 12-photo scan),
       then runs Find-HouseDuplicate over the collection with the default threshold: wall time, peak working set.
    4. bench/DuplicateBenchmark.cs evaluate: pair precision and recall of the groups found.
    The server: -ConnectionString, else $env:HOUSESIM_PG_CONNECTION, else tools/test-postgres.sh starts one.
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File bench/Invoke-DuplicateBenchmark.ps1
#>
param(
    [string] $Module = (Join-Path $PSScriptRoot '..' 'out' 'HouseSimilarity'),
    [string] $Photos = (Join-Path $PSScriptRoot '..' '..' 'shared' 'data' 'houses'),
    [string] $ConnectionString = $env:HOUSESIM_PG_CONNECTION,
    [int] $Count = 100000,
    [string] $Results = (Join-Path $PSScriptRoot 'RESULTS.md')
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path (Join-Path $PSScriptRoot '..')
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
$pwsh = $BenchPwsh
$Module = Resolve-Path $Module
if (-not (Test-Path (Join-Path $Module 'HouseSimilarity.psd1'))) { throw "No built module in ${Module}: run ./build.ps1 first." }
if (-not $ConnectionString) {
    $ConnectionString = & bash (Join-Path $root 'tools' 'test-postgres.sh') start | Select-Object -Last 1
    if ($LASTEXITCODE -ne 0) { throw 'tools/test-postgres.sh start failed.' }
}
$work = Join-Path $root 'out' 'bench'
New-Item -ItemType Directory -Force $work | Out-Null
# 1. Real copies with known groups, once per model.
$models = Join-Path $Module 'bin' 'models'
$modelHash = (Get-FileHash (Join-Path $models 'house.onnx') -Algorithm SHA256).Hash.Substring(0, 12).ToLowerInvariant()
$battery = Join-Path $work "battery-$modelHash.bin"
if (-not (Test-Path $battery)) {
    & dotnet (Join-Path $root 'out' 'tool' 'hstool.dll') battery-export --data $Photos --models $models --out $battery `
        --vectors (Join-Path $work "battery-vectors-$modelHash.bin")
    if ($LASTEXITCODE -ne 0) { throw 'hstool battery-export failed.' }
}

# 2. The collection, in both stores.
$program = Join-Path $PSScriptRoot 'DuplicateBenchmark.cs'
$storeFile = Join-Path $work 'dupes.db'
$ids = Join-Path $work 'dupes.ids'
$collection = "bench_dupes_$PID"
$made = Read-BenchValue (& dotnet run -c Release $program -- make --battery $battery --count $Count --local $storeFile --ids $ids `
        --connection $ConnectionString --collection $collection)
if ($LASTEXITCODE -ne 0) { throw "bench/DuplicateBenchmark.cs make failed ($LASTEXITCODE)." }

# 3. The cmdlet, in a new pwsh per store.
function Measure-Scan([string] $Label, [string] $StoreArguments) {
    $groupsFile = Join-Path $work "groups-$Label.tsv"
    $scan = Measure-DuplicateScan -Module $Module -Samples "$root/out/samples/originals" -StoreArguments $StoreArguments -GroupsFile $groupsFile
    $score = Read-BenchValue (& dotnet run -c Release $program -- evaluate --groups $groupsFile --ids $ids)
    if ($LASTEXITCODE -ne 0) { throw "bench/DuplicateBenchmark.cs evaluate failed ($LASTEXITCODE)." }
    foreach ($key in $score.Keys) { $scan[$key] = $score[$key] }
    Write-Host "${Label}: $(($scan.GetEnumerator() | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Value)" }) -join ', ')"
    $scan
}
$local = Measure-Scan 'local' "-StorePath '$storeFile' -Collection dupes"
$pg = Measure-Scan 'pgvector' "-Backend PgVector -ConnectionString '$ConnectionString' -Collection $collection"
& $pwsh -NoProfile -Command "Import-Module '$Module/HouseSimilarity.psd1'; Remove-HouseCollection $collection -Backend PgVector -ConnectionString '$ConnectionString' -Confirm:`$false"

# 4. The record.
$vectorMiB = [double]$made['vector_bytes'] / 1MB
$cpu = Get-BenchCpu
function Row([string] $measure, [string] $key, [string] $format = '{0}') {
    "| $measure | $($format -f $local[$key]) | $($format -f $pg[$key]) |"
}
function Growth($scan) { '{0:F0} MiB ({1:F2}x the vectors)' -f ([double]$scan['peak_mib'] - [double]$scan['peak_before_mib']), (([double]$scan['peak_mib'] - [double]$scan['peak_before_mib']) / $vectorMiB) }
$section = @"

## $(Get-Date -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC: Find-HouseDuplicate over $('{0:N0}' -f [int]$made['vectors']) vectors, $([Environment]::ProcessorCount) cores ($cpu)

Written by ``bench/Invoke-DuplicateBenchmark.ps1`` (``bench/DuplicateBenchmark.cs``). The collection: the $($made['real_originals'])
photos of the validation houses 241..300 and $([int]$made['real_rows'] - [int]$made['real_originals']) real edited copies of them
(26 edits each: resized, recompressed, cropped, recoloured, watermarked, mirrored, rotated, framed, PNG; hstool
battery-export), plus synthetic photos to $('{0:N0}' -f [int]$made['vectors']): each a real photo plus noise of norm 1.5..2.0,
$($made['synthetic_copy_groups']) of them with 1 to 4 synthetic near copies (noise of norm 0.1..0.45). Each photo's distance
to its nearest photo of another group, median: $($made['median_nearest_other_real']) for the real photos, $($made['median_nearest_other_synthetic'])
for the synthetic ones. The vectors take $('{0:F1}' -f $vectorMiB) MiB. Each scan runs ``Find-HouseDuplicate`` in a new pwsh
at its default threshold (it follows the collection size: $($local['verbose'])), after a warm-up scan of 12 photos that loads
the model and calibration; memory is the peak working set of that pwsh. A found pair is any two members of one group.

| measure | embedded store (Local) | PostgreSQL + pgvector (HNSW) |
|---|---|---|
$(Row 'wall time of Find-HouseDuplicate' 'wall_s' '{0} s')
| peak working set of the pwsh; growth during the scan | $($local['peak_mib']) MiB; $(Growth $local) | $($pg['peak_mib']) MiB; $(Growth $pg) |
$(Row 'threshold' 'threshold')
$(Row 'groups' 'groups')
$(Row 'pairs found' 'found_pairs')
$(Row '**pair precision**, all photos' 'pair_precision')
$(Row 'pair recall, all photos' 'pair_recall')
$(Row '**pair precision on the real edited copies** (pairs with a real photo; a real photo joined to a synthetic one counts as false)' 'real_pair_precision')
$(Row 'pair recall on the real edited copies' 'real_pair_recall')
$(Row 'real photos joined to synthetic ones (pairs)' 'real_synthetic_pairs')
$(Row 'pair precision, synthetic copies' 'synthetic_pair_precision')
$(Row 'pair recall, synthetic copies' 'synthetic_pair_recall')
"@
Add-Content $Results $section
Write-Host $section
