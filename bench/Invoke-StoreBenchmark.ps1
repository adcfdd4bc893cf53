<#
.SYNOPSIS
    Store benchmark: PostgreSQL + pgvector beside the embedded store at 100k vectors; appends to bench/RESULTS.md.
.DESCRIPTION
    1. Embeds the development photos once with Get-HouseEmbedding (cached per model under out/bench).
    2. bench/StoreBenchmark.cs (a .NET file-based program over the Core library) grows them to -Count vectors with
       realistic synthetic ones (a real embedding, sometimes pulled towards another, plus noise, renormalised) and, in
       one run on one machine: ingest by binary COPY vs one INSERT per row, the HNSW build, query latency p50/p95 for
       HNSW and exact search on PgVector and for the Local store, and HNSW recall@10 against exact search.
    The server: -ConnectionString, else $env:HOUSESIM_PG_CONNECTION, else tools/test-postgres.sh starts one.
.EXAMPLE
    dotnet tool run pwsh -NoProfile -File bench/Invoke-StoreBenchmark.ps1
#>
param(
    [string] $Module = (Join-Path $PSScriptRoot '..' 'out' 'HouseSimilarity'),
    [string] $Photos = (Join-Path $PSScriptRoot '..' '..' 'shared' 'data' 'houses'),
    [string] $ConnectionString = $env:HOUSESIM_PG_CONNECTION,
    [int] $Count = 100000,
    [int] $RowByRowSample = 5000,
    [string] $Results = (Join-Path $PSScriptRoot 'RESULTS.md')
)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path (Join-Path $PSScriptRoot '..')
. (Join-Path $PSScriptRoot 'BenchCommon.ps1')
$Module = Resolve-Path $Module
if (-not (Test-Path (Join-Path $Module 'HouseSimilarity.psd1'))) { throw "No built module in ${Module}: run ./build.ps1 first." }
if (-not $ConnectionString) {
    $ConnectionString = & bash (Join-Path $root 'tools' 'test-postgres.sh') start | Select-Object -Last 1
    if ($LASTEXITCODE -ne 0) { throw 'tools/test-postgres.sh start failed.' }
}

# 1. The real embeddings, once per model.
$embeddings = Get-BenchEmbedding -Module $Module -Photos $Photos -Cache (Join-Path $root 'out' 'bench')
$vectors = $embeddings.File
$modelId = $embeddings.ModelId

# 2. The stores, all in one process and one run.
Write-Host "Store benchmark at $Count vectors..."
$program = Join-Path $PSScriptRoot 'StoreBenchmark.cs'
$lines = & dotnet run -c Release $program -- --embeddings $vectors --model-id $modelId --connection $ConnectionString `
    --count $Count --rows-sample $RowByRowSample
if ($LASTEXITCODE -ne 0) { throw "bench/StoreBenchmark.cs failed ($LASTEXITCODE)." }
$r = Read-BenchValue $lines
function N([string] $key) { [double]::Parse($r[$key], [Globalization.CultureInfo]::InvariantCulture) }

$server = & bash -c "psql --version 2>/dev/null" 2>$null
$pgvector = (Get-ChildItem /usr/share/postgresql/*/extension/vector.control -ErrorAction SilentlyContinue | Select-Object -First 1 |
    Get-Content | Select-String "default_version" | ForEach-Object { $_ -replace ".*=\s*'?([^']*)'?", '$1' })
$cpu = Get-BenchCpu
$copyRatio = (N 'copy_rows_per_s') / (N 'rowbyrow_rows_per_s')
$sameRatio = (N 'copy_sample_rows_per_s') / (N 'rowbyrow_rows_per_s')
$bigRatio = (N 'copy_big_rows_per_s') / (N 'rowbyrow_rows_per_s')
$section = @"

## $(Get-Date -AsUTC -Format 'yyyy-MM-dd HH:mm') UTC: store benchmark, $('{0:N0}' -f (N 'vectors')) vectors, $([Environment]::ProcessorCount) cores ($cpu)

Written by ``bench/Invoke-StoreBenchmark.ps1`` (``bench/StoreBenchmark.cs``): $(N 'real_vectors') real embeddings of the
development photos (Get-HouseEmbedding, model ``$modelId``) plus synthetic ones made from them (a real embedding, half
the time pulled up to 30 % towards another, plus Gaussian noise of norm 0.15..0.7, renormalised). Queries: $(N 'queries')
re-uploads (a real embedding plus noise of norm 0.05..0.3, none stored); median distance to the 1st / 10th neighbour
$($r['median_distance_1st']) / $($r['median_distance_10th']). PostgreSQL 15 + pgvector $pgvector on the same machine
(tools/test-postgres.sh, default settings except ``maintenance_work_mem = $($r['maintenance_work_mem'])`` for the index build).
Ingest rows marked "ingestor" and every query row run the code path of the cmdlets (Core's HouseIngestor with
Add-HouseVector's batch size, and SimilaritySearch as Find-SimilarHouse uses it, top $($r['top'])); the COPY and
row-by-row rows compare the PostgreSQL store's two write paths. The cmdlets add embedding the query photo (about 60 ms).

| measure | value |
|---|---|
| ingest, binary COPY + upsert, batches of 1000, $('{0:N0}' -f (N 'copy_rows')) rows, no index yet | $('{0:N0}' -f (N 'copy_rows_per_s')) rows/s ($($r['copy_s']) s) |
| ingest, binary COPY + upsert, batches of $('{0:N0}' -f (N 'copy_big_batch')), the same $('{0:N0}' -f (N 'copy_rows')) rows | $('{0:N0}' -f (N 'copy_big_rows_per_s')) rows/s |
| ingest, binary COPY + upsert, batches of 1000, the same $('{0:N0}' -f (N 'rowbyrow_rows')) rows as below, median of 3 ($($r['copy_sample_runs'])) | $('{0:N0}' -f (N 'copy_sample_rows_per_s')) rows/s |
| ingest, one INSERT ... ON CONFLICT per row (prepared, 1000 per transaction), $('{0:N0}' -f (N 'rowbyrow_rows')) rows, median of 3 ($($r['rowbyrow_runs'])); no index, so the rate extrapolates | $('{0:N0}' -f (N 'rowbyrow_rows_per_s')) rows/s |
| **COPY / row by row**: batches of 1000; of $('{0:N0}' -f (N 'copy_big_batch')); same-size sample | **$('{0:N1}' -f $copyRatio)x**; $('{0:N1}' -f $bigRatio)x; $('{0:N1}' -f $sameRatio)x (floor 10x) |
| **ingestor** (Add-HouseVector's path: batches of 64, HNSW index maintained as rows arrive), $('{0:N0}' -f (N 'ingestor_rows')) rows | $('{0:N0}' -f (N 'ingestor_rows_per_s')) rows/s |
| HNSW index build after the load (m $($r['hnsw_m']), ef_construction $($r['hnsw_ef_construction'])) | $($r['hnsw_build_s']) s |
| PgVector HNSW query, ef_search $($r['hnsw_ef_search']) (the store's default), p50 / p95 | $($r['hnsw_p50_ms']) / $($r['hnsw_p95_ms']) ms |
| PgVector HNSW query, ef_search 40 (pgvector's default), p50 / p95 | $($r['hnsw40_p50_ms']) / $($r['hnsw40_p95_ms']) ms |
| PgVector HNSW, $(N 'exact_queries') queries in one batched search (one LATERAL statement) against one per call | $('{0:N0}' -f (N 'hnsw_batched_queries_per_s')) / $('{0:N0}' -f (N 'hnsw_single_queries_per_s')) queries/s |
| PgVector exact query (-Exact: full scan), p50 / p95 ($($r['exact_queries']) queries) | $($r['exact_p50_ms']) / $($r['exact_p95_ms']) ms |
| Local (embedded SQLite + in-memory SIMD scan, exact) query, p50 / p95 | $($r['local_p50_ms']) / $($r['local_p95_ms']) ms |
| Local: first query (loads the $('{0:N0}' -f (N 'vectors')) vectors into memory) | $($r['local_first_query_ms']) ms |
| Local ingest, batches of 1000 | $('{0:N0}' -f (N 'local_ingest_rows_per_s')) rows/s |
| **HNSW recall@10 vs exact**, re-uploads ($(N 'exact_queries') queries), ef_search $($r['hnsw_ef_search']) / 40 | **$($r['hnsw_recall_at_10'])** / $($r['hnsw40_recall_at_10']) |
| **HNSW recall@10 vs exact**, new photos made like the synthetic data ($(N 'fresh_queries') queries; median distance to 1st / 10th neighbour $($r['fresh_median_distance_1st']) / $($r['fresh_median_distance_10th'])), ef_search $($r['hnsw_ef_search']) / 40 | **$($r['fresh_hnsw_recall_at_10'])** / $($r['fresh_hnsw40_recall_at_10']) |
| Local exact vs PgVector exact, same top 10 | $($r['local_vs_pg_exact_agreement']) |
"@
Add-Content $Results $section
Write-Host $section
