<#
.SYNOPSIS
    Scaling benchmark: the embedded store (Local) and PostgreSQL + pgvector side by side at 10k, 100k and 1M vectors;
    appends one table to bench/RESULTS.md.
.DESCRIPTION
    For each size in -Sizes and each backend in -Backends, on one collection built once for that size:
    1. Ingest (bench/ScalingBenchmark.cs ingest): the real embeddings of the development photos (Get-HouseEmbedding,
       cached per model in out/bench) and then synthetic photos of other houses, made as they are stored (a real
       embedding pushed far away by noise of norm 1.5..2.0; 2000 of them with 1 to 4 near copies, noise 0.1..0.45: the
       collection bench/Invoke-DuplicateBenchmark.ps1 uses, without the edited copies). They go through
       IHouseStore.UpsertAsync in batches of -Batch (the rate counts only those calls), then FinishIngestAsync, which
       builds what a backend defers (PgVector: its HNSW index; the embedded store: whatever index it keeps), reported
       as "index build". Memory holds one batch at a time, whatever the size.
    2. Size on disk: Local, the SQLite file and every file beside it whose name starts with its name (the write-ahead
       log, an index file), with the store closed; PgVector, pg_total_relation_size of the collection's table.
    3. Queries (bench/ScalingBenchmark.cs query, a new process): -Queries re-uploads of real photos (a real embedding
       plus noise of norm 0.05..0.3, none stored) through the similarity search Find-SimilarHouse uses, top 10, warm:
       the default search's p50/p95, exact search's (SearchOptions.Exact) on the first -ExactQueries, and recall@10 of
       the default search against exact.
    4. Open: a new pwsh imports the module and times (Measure-Command) its first `Find-SimilarHouse -Id` of a stored
       photo, a second one, then Get-HouseCollection, and reports its peak working set; -OpenRuns such processes, one
       after another, and the median of each measure (every run is shown too).
    5. Find-HouseDuplicate over the collection in a new pwsh, as bench/Invoke-DuplicateBenchmark.ps1 runs it (after a
       warm-up scan of the sample photos): wall time and peak working set of that pwsh.
    Then the collection is removed (unless -Keep) before the next size. Every cell is a measured value: a step that
    fails, or prints nothing, stops the run with an error instead of leaving a blank; the figures of each finished
    step are also written to runs.json under -Work as they come, so a long run keeps them.

    The server: -ConnectionString, else $env:HOUSESIM_PG_CONNECTION, else tools/test-postgres.sh starts one. The HNSW
    build runs with maintenance_work_mem = -MaintenanceWorkMem (the searches with the server's defaults).

    How long it takes on the 2-core development machine (AMD EPYC, shared with other work):
    - 10k, both backends: measured 43 s to 1 min 13 s in three runs (Local 17 to 30 s, PgVector 25 to 40 s, the rest
      the embeddings cache check and the table); the first run also builds bench/ScalingBenchmark.cs (about 20 s) and,
      once per model, embeds the 1200 development photos (about 80 s). 30k, both backends: measured about 2 min.
    - 100k: measured 1 minute on Local and 4 to 5 minutes on PgVector (Find-HouseDuplicate 184 to 226 s there).
    - 1M, Local: measured 13 and 18 minutes in two runs (the HNSW build 6 to 7, Find-HouseDuplicate 7 to 10). 1M,
      PgVector: measured 106 minutes, 99 of them Find-HouseDuplicate (one connection: one server core); the HNSW build
      does not fit in 512MB of maintenance_work_mem: -MaintenanceWorkMem 2GB makes it several times faster where the
      memory is there (305 s). Disk: about 1.3 GB for the Local file and its index, 1.5 to 2 GB for PgVector's table and index.
    Run the big sizes on a quiet machine, one size per run if need be (-Sizes 1000000 -Backends Local): each run
    appends its own table, which says which sizes and backends it holds and the commands that made it; -Include puts
    the columns of earlier runs (their runs.json) into it, for one table of every size.
.PARAMETER Sizes
    Collection sizes, in vectors; each at least the number of real embeddings (1200 development photos).
.PARAMETER Backends
    Local, PgVector or both (the default).
.PARAMETER Include
    runs.json files of earlier runs (under their -Work) whose columns the table shows beside this run's, ordered by
    size; they must have measured the same model. A size and backend this run measures again is this run's.
.PARAMETER Keep
    Keeps each collection (the store file under -Work, the PgVector table) instead of removing it after its size.
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File bench/Invoke-ScalingBenchmark.ps1
    All three sizes on both backends (hours: see above).
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File bench/Invoke-ScalingBenchmark.ps1 -Sizes 1000000 -Backends Local
    Only the embedded store at a million vectors.
#>
param(
    # Text, split at commas: `pwsh -File` passes "10000,100000" as one string, which [int[]] would read as 10000100000.
    [string[]] $Sizes = @('10000', '100000', '1000000'),
    [string[]] $Backends = @('Local', 'PgVector'),
    [string] $Module = (Join-Path $PSScriptRoot '..' 'out' 'HouseSimilarity'),
    [string] $Photos = (Join-Path $PSScriptRoot '..' '..' 'shared' 'data' 'houses'),
    [string] $ConnectionString = $env:HOUSESIM_PG_CONNECTION,
    [ValidateRange(1, 100000)] [int] $Batch = 1000,
    [ValidateRange(1, 100000)] [int] $Queries = 200,
    [ValidateRange(1, 100000)] [int] $ExactQueries = 100,
    [ValidateRange(1, 99)] [int] $OpenRuns = 3,
    [string] $MaintenanceWorkMem = '512MB',
    [string] $Work = (Join-Path $PSScriptRoot '..' 'out' 'bench' 'scaling'),
    [switch] $Keep,
    [string[]] $Include = @(),
    [string] $Results = (Join-Path $PSScriptRoot 'RESULTS.md')
)
$ErrorActionPreference = 'Stop'
$Sizes = @($Sizes -split ',' | ForEach-Object {
        $n = 0
        if (-not [int]::TryParse($_.Trim(), [Globalization.NumberStyles]::None, [Globalization.CultureInfo]::InvariantCulture, [ref] $n) -or $n -lt 1) {
            throw "-Sizes: '$_' is not a number of vectors (digits only, sizes separated by commas)."
        }
        $n
    })
$Backends = @($Backends -split ',' | ForEach-Object {
        $name = $_.Trim()
        $known = @('Local', 'PgVector') | Where-Object { $_ -eq $name }
        if (-not $known) { throw "-Backends: '$name' is not Local or PgVector." }
        $known
    })
# Checked now, not after hours of measuring.
$Include = @($Include -split ',' | Where-Object { $_.Trim() } | ForEach-Object {
        if (-not (Test-Path -LiteralPath $_.Trim() -PathType Leaf)) { throw "-Include: no runs.json at '$($_.Trim())'." }
        (Resolve-Path -LiteralPath $_.Trim()).Path
    })
$root = Resolve-Path (Join-Path $PSScriptRoot '..')
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
$command = "pwsh bench/Invoke-ScalingBenchmark.ps1 -Sizes $($Sizes -join ',') -Backends $($Backends -join ',')" +
    $(if ($Batch -ne 1000) { " -Batch $Batch" }) + $(if ($Queries -ne 200) { " -Queries $Queries" }) +
    $(if ($ExactQueries -ne 100) { " -ExactQueries $ExactQueries" }) + $(if ($OpenRuns -ne 3) { " -OpenRuns $OpenRuns" }) + $(if ($MaintenanceWorkMem -ne '512MB') { " -MaintenanceWorkMem $MaintenanceWorkMem" })
$Module = Resolve-Path $Module
if (-not (Test-Path (Join-Path $Module 'HouseSimilarity.psd1'))) { throw "No built module in ${Module}: run ./build.ps1 first." }
$samples = Join-Path $root 'out' 'samples' 'originals'
if (-not (Test-Path $samples)) { throw "No sample photos in ${samples} (for the duplicate scan's warm-up): run ./build.ps1 first." }
if ($Backends -contains 'PgVector' -and -not $ConnectionString) {
    $ConnectionString = & bash (Join-Path $root 'tools' 'test-postgres.sh') start | Select-Object -Last 1
    if ($LASTEXITCODE -ne 0) { throw 'tools/test-postgres.sh start failed.' }
}
New-Item -ItemType Directory -Force $Work | Out-Null
$Work = Resolve-Path $Work
$embeddings = Get-BenchEmbedding -Module $Module -Photos $Photos -Cache (Join-Path $root 'out' 'bench')
$program = Join-Path $PSScriptRoot 'ScalingBenchmark.cs'
$earlier = [ordered]@{}
foreach ($file in $Include) {
    $runsOfFile = Get-Content -Raw $file | ConvertFrom-Json -AsHashtable
    foreach ($label in $runsOfFile.Keys) {
        if ($runsOfFile[$label]['model_id'] -ne $embeddings.ModelId) {
            throw "-Include ${file}: '$label' was measured with model '$($runsOfFile[$label]['model_id'])', not '$($embeddings.ModelId)'."
        }
        $earlier[$label] = $runsOfFile[$label]
    }
}

function Invoke-Program([string] $Mode, [string[]] $Arguments) {
    $lines = & dotnet run -c Release $program -- $Mode --embeddings $embeddings.File --model-id $embeddings.ModelId `
        --maintenance-work-mem $MaintenanceWorkMem @Arguments
    if ($LASTEXITCODE -ne 0) { throw "bench/ScalingBenchmark.cs $Mode failed ($LASTEXITCODE)." }
    Read-BenchValue $lines
}

# The first query of a new pwsh, as a user types it, then a second one and Get-HouseCollection in the same pwsh.
function Measure-Open([string] $StoreArguments, [string] $Collection, [string] $Id) {
    $lines = & $BenchPwsh -NoProfile -Command "
        `$ErrorActionPreference = 'Stop'
        Import-Module '$Module/HouseSimilarity.psd1'
        `$first = Measure-Command { `$global:m1 = @(Find-SimilarHouse -Id '$Id' -Top 10 -Collection $Collection $StoreArguments) }
        `$second = Measure-Command { `$global:m2 = @(Find-SimilarHouse -Id '$Id' -Top 10 -Collection $Collection $StoreArguments) }
        `$list = Measure-Command { `$global:c = @(Get-HouseCollection $Collection $StoreArguments) }
        if (`$m1.Count -ne 10 -or `$m2.Count -ne 10) { throw ('Find-SimilarHouse gave {0} and {1} matches, not 10.' -f `$m1.Count, `$m2.Count) }
        if (`$c.Count -ne 1) { throw ('Get-HouseCollection gave {0} collections, not 1.' -f `$c.Count) }
        `$self = [Diagnostics.Process]::GetCurrentProcess(); `$self.Refresh()
        'first_query_ms={0:F0}' -f `$first.TotalMilliseconds
        'second_query_ms={0:F0}' -f `$second.TotalMilliseconds
        'collection_ms={0:F0}' -f `$list.TotalMilliseconds
        'collection_count={0}' -f `$c[0].Count
        'open_peak_mib={0:F0}' -f (`$self.PeakWorkingSet64 / 1MB)
    "
    if ($LASTEXITCODE -ne 0) { throw "The first Find-SimilarHouse in a new pwsh ($StoreArguments) failed ($LASTEXITCODE)." }
    Read-BenchValue $lines
}

function Remove-Collection([string] $Backend, [string] $StoreFile, [string] $Collection) {
    if ($Backend -eq 'Local') {
        Get-ChildItem (Split-Path $StoreFile) -File -ErrorAction SilentlyContinue |
            Where-Object { $_.Name.StartsWith((Split-Path $StoreFile -Leaf), [StringComparison]::Ordinal) } | Remove-Item
    } else {
        & $BenchPwsh -NoProfile -Command "Import-Module '$Module/HouseSimilarity.psd1'; Remove-HouseCollection $Collection -Backend PgVector -ConnectionString '$ConnectionString' -Confirm:`$false"
        if ($LASTEXITCODE -ne 0) { Write-Warning "Could not remove the PgVector collection $Collection." }
    }
}

$runs = [ordered]@{}
$runClock = [Diagnostics.Stopwatch]::StartNew()
foreach ($size in $Sizes) {
    foreach ($backend in $Backends) {
        $label = "$size $backend"
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $collection = $backend -eq 'Local' ? 'scaling' : "bench_scaling_${size}_$PID"
        # One folder per size, so that no store file's name starts with another's.
        $storeFile = Join-Path $Work $size 'houses.db'
        $target = $backend -eq 'Local' ? @('--local', $storeFile) : @('--connection', $ConnectionString)
        $storeArguments = $backend -eq 'Local' ? "-StorePath '$storeFile'" : "-Backend PgVector -ConnectionString '$ConnectionString'"
        try {
            Write-Host "[$label] ingest..."
            $r = Invoke-Program 'ingest' ($target + @('--collection', $collection, '--size', $size, '--batch', $Batch))
            Write-Host "[$label] queries..."
            $q = Invoke-Program 'query' ($target + @('--collection', $collection, '--queries', $Queries, '--exact-queries', $ExactQueries))
            foreach ($key in $q.Keys) { $r["query_$key"] = $q[$key] }
            Write-Host "[$label] first query in a new pwsh..."
            # The machine is shared: the median of a few new processes, each run shown.
            $opens = @(1..$OpenRuns | ForEach-Object { Measure-Open $storeArguments $collection $r['probe_id'] })
            foreach ($key in $opens[0].Keys) {
                $values = @($opens | ForEach-Object { [double]::Parse($_[$key], [Globalization.CultureInfo]::InvariantCulture) })
                $r[$key] = [string](($values | Sort-Object)[[int][Math]::Floor(($values.Count - 1) / 2)])
                $r["${key}_runs"] = ($values | ForEach-Object { '{0:F0}' -f $_ }) -join ' / '
            }
            if ([long]$r['collection_count'] -ne $size) { throw "Get-HouseCollection counts $($r['collection_count']) photos in a collection of $size." }
            Write-Host "[$label] Find-HouseDuplicate..."
            $d = Measure-DuplicateScan -Module $Module -Samples $samples -StoreArguments "$storeArguments -Collection $collection" `
                -GroupsFile (Join-Path $Work "groups-$size-$backend.tsv")
            foreach ($key in $d.Keys) { $r["dup_$key"] = $d[$key] }
        } finally {
            if (-not $Keep) { Remove-Collection $backend $storeFile $collection }
        }
        $r['total_s'] = '{0:F0}' -f $clock.Elapsed.TotalSeconds
        $r['command'] = $command
        $r['model_id'] = $embeddings.ModelId
        Write-Host "[$label] $(($r.GetEnumerator() | Sort-Object Name | ForEach-Object { "$($_.Name)=$($_.Value)" }) -join ', ')"
        $runs[$label] = $r
        # Kept as measured, so that a long run's figures outlive a failure further on.
        $runs | ConvertTo-Json -Depth 3 | Set-Content (Join-Path $Work 'runs.json')
    }
}

# Earlier runs' columns, then every column in order of size (the embedded store first).
foreach ($label in $earlier.Keys) {
    if (-not $runs.Contains($label)) { $runs[$label] = $earlier[$label] }
}
$ordered = [ordered]@{}
foreach ($label in @($runs.Keys | Sort-Object { [int]($_ -split ' ')[0] }, { ($_ -split ' ')[1] -ne 'Local' })) { $ordered[$label] = $runs[$label] }
$runs = $ordered

# The table: one column per size and backend, every cell a measured value.
function Value($run, [string] $key) {
    $value = $run[$key]
    if ([string]::IsNullOrWhiteSpace($value) -or $value -match '^(NaN|-?Infinity|∞)$') { throw "No value for $key in the run it belongs to." }
    $value
}
function Number($run, [string] $key) { [double]::Parse((Value $run $key), [Globalization.CultureInfo]::InvariantCulture) }
function Row([string] $measure, [scriptblock] $cell) {
    "| $measure | $(($runs.Values | ForEach-Object { & $cell $_ }) -join ' | ') |"
}
$invariant = [Globalization.CultureInfo]::InvariantCulture
function Fmt([string] $format, [object[]] $values) { [string]::Format($invariant, $format, $values) }

$memory = (Get-Content /proc/meminfo -ErrorAction SilentlyContinue | Select-String '^MemTotal' | Select-Object -First 1) -replace '\D', ''
$machine = "$([Environment]::ProcessorCount) cores ($(Get-BenchCpu)), $(Fmt '{0:F0}' ([double]$memory / 1MB)) GiB of memory, " +
    "$([Runtime.InteropServices.RuntimeInformation]::OSDescription), .NET $([Environment]::Version), PowerShell $($PSVersionTable.PSVersion)"
$pgRun = $runs.Values | Where-Object { $_['server_version'] } | Select-Object -First 1
if ($pgRun) {
    $machine += "; PostgreSQL on the same machine ($(Value $pgRun 'server_version'), pgvector $(Value $pgRun 'pgvector_version'); tools/test-postgres.sh, default settings, maintenance_work_mem = $MaintenanceWorkMem for the HNSW build)"
}
$first = $runs.Values | Select-Object -First 1
$header = "| measure | $(($runs.Keys | ForEach-Object { $s, $b = $_ -split ' '; Fmt '{0:N0}, {1}' ([int]$s), ($b -eq 'Local' ? 'embedded (Local)' : 'PostgreSQL + pgvector') }) -join ' | ') |"
$section = @"

## $(Get-Date -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC: scaling, $(($runs.Keys | ForEach-Object { [int]($_ -split ' ')[0] } | Sort-Object -Unique | ForEach-Object { Fmt '{0:N0}' $_ }) -join ' / ') vectors, $(($runs.Keys | ForEach-Object { ($_ -split ' ')[1] } | Sort-Object -Unique) -join ' and ')

Written by ``bench/Invoke-ScalingBenchmark.ps1`` (``bench/ScalingBenchmark.cs``); this run $(Fmt '{0:F0}' ($runClock.Elapsed.TotalMinutes)) min$(if ($Include) { ', with the columns of earlier runs on the same machine' }). Machine: $machine.
Reproduce: ``./build.ps1; $(($runs.Values | ForEach-Object { Value $_ 'command' } | Select-Object -Unique) -join '; ')``.
The collection: the $(Value $first 'real_vectors') development photos embedded with Get-HouseEmbedding (model ``$($embeddings.ModelId)``),
then synthetic photos of other houses (a real embedding plus noise of norm 1.5..2.0; 2000 of them with 1 to 4 near copies),
ingested through IHouseStore.UpsertAsync in batches of $(Value $first 'batch'), then FinishIngestAsync (its time is the index build).
Queries: $(Value $first 'query_queries') re-uploads of real photos (noise of norm 0.05..0.3, none stored), top $(Value $first 'query_top'), through the similarity
search Find-SimilarHouse uses, in one warm process; exact: the first $(Value $first 'query_exact_queries') of them with SearchOptions.Exact; recall@$(Value $first 'query_top') of the
default search against exact. "New pwsh": a pwsh that has imported the module and runs ``Find-SimilarHouse -Id <stored photo> -Top 10``
(Measure-Command), again, then ``Get-HouseCollection``. Find-HouseDuplicate: over the whole collection at its default threshold, in a new pwsh after a
warm-up scan of the sample photos, as ``bench/Invoke-DuplicateBenchmark.ps1`` runs it.

$header
|---|$(($runs.Keys | ForEach-Object { '---' }) -join '|')|
$(Row 'ingest, UpsertAsync in batches (vectors/s; seconds)' { param($r) Fmt '{0:N0}/s ({1:F1} s)' (Number $r 'ingest_per_s'), (Number $r 'ingest_s') })
$(Row 'peak working set of the ingesting process (one batch in memory at a time)' { param($r) Fmt '{0:N0} MiB' (Number $r 'ingest_peak_mib') })
$(Row 'index build (FinishIngestAsync)' { param($r) (Value $r 'index_built') -eq 'true' ? (Fmt '{0:F1} s' (Number $r 'index_build_s')) : (Fmt '{0:F2} s (nothing deferred)' (Number $r 'index_build_s')) })
$(Row 'store size on disk (bytes per vector)' { param($r) Fmt '{0:F1} MiB ({1:N0} B)' ((Number $r 'store_bytes') / 1MB), ((Number $r 'store_bytes') / (Number $r 'vectors')) })
$(Row 'what was measured on disk' { param($r) Value $r 'store_files' })
$(Row 'collection index (Get-HouseCollection IndexType)' { param($r) Value $r 'query_index_type' })
$(Row "**first Find-SimilarHouse in a new pwsh**, median of $OpenRuns pwsh (each)" { param($r) Fmt '**{0:N0} ms** ({1})' (Number $r 'first_query_ms'), (Value $r 'first_query_ms_runs') })
$(Row 'second Find-SimilarHouse in that pwsh' { param($r) Fmt '{0:N0} ms' (Number $r 'second_query_ms') })
$(Row '**Get-HouseCollection** in that pwsh' { param($r) Fmt '**{0:N0} ms** ({1})' (Number $r 'collection_ms'), (Value $r 'collection_ms_runs') })
$(Row 'peak working set of that pwsh' { param($r) Fmt '{0:N0} MiB' (Number $r 'open_peak_mib') })
$(Row '**query, default search, p50 / p95** (warm, in-process)' { param($r) Fmt '**{0:F2}** / {1:F2} ms' (Number $r 'query_default_p50_ms'), (Number $r 'query_default_p95_ms') })
$(Row 'query, exact, p50 / p95' { param($r) Fmt '{0:F2} / {1:F2} ms' (Number $r 'query_exact_p50_ms'), (Number $r 'query_exact_p95_ms') })
$(Row '**recall@10, default search vs exact**' { param($r) Fmt '**{0:F4}**' (Number $r 'query_recall_at_top') })
$(Row 'median distance to the 1st / 10th neighbour' { param($r) Fmt '{0:F3} / {1:F3}' (Number $r 'query_median_distance_1st'), (Number $r 'query_median_distance_last') })
$(Row '**Find-HouseDuplicate over the collection**' { param($r) Fmt '**{0:F1} s**' (Number $r 'dup_wall_s') })
$(Row 'its threshold; groups found' { param($r) Fmt '{0}; {1:N0}' (Value $r 'dup_threshold'), (Number $r 'dup_groups') })
$(Row '**peak working set of the duplicate scan''s pwsh**' { param($r) Fmt '**{0:N0} MiB**' (Number $r 'dup_peak_mib') })
$(Row 'whole step (ingest to clean-up)' { param($r) Fmt '{0:F0} s' (Number $r 'total_s') })
"@
Add-Content $Results $section
Write-Host $section
