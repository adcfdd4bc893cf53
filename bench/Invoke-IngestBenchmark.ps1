<#
.SYNOPSIS
    Ingest on real photo sizes: Add-HouseVector in a fresh pwsh on camera-sized JPEGs, on the development photos and on
    10,000 photos, each beside the bare inference rate of the same model in the same run; appends to bench/RESULTS.md.
.DESCRIPTION
    - the large set: hstool make-large-photos (development photos upscaled to 12 MP, every tenth to 24 MP, with grain,
      JPEG quality 85-92, some with EXIF orientation, every fifteenth PNG), under out/bench/large, made once
    - decode + resize to 224 on one core, the candidates side by side: hstool bench-decode on that set
    - bare inference: hstool bench-inference (photos decoded beforehand; backbone + head only, parallel as in the module),
      before and after the ingests; the ratios use their mean
    - end to end: Get-ChildItem | Add-HouseVector in a fresh pwsh into a fresh embedded store, model loaded first (as bare
      inference has it), with the pwsh's peak working set
    - 10k: hard links (no extra disk) to the development photos and the 12 MP JPEGs, 10,000 paths in all
    Any figure that is missing or not a number stops the script with an error.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string] $Photos,
    [Parameter(Mandatory)] [string] $Tool,
    [string] $Large = (Join-Path (Split-Path $PSScriptRoot) 'out' 'bench' 'large'),
    [int] $Total = 10000,
    [string] $Results = (Join-Path $PSScriptRoot 'RESULTS.md')
)
$ErrorActionPreference = 'Stop'
# The ingests run in fresh pwsh processes: absolute paths.
$Module = (Resolve-Path $Module).Path
$Photos = (Resolve-Path $Photos).Path
$Tool = (Resolve-Path $Tool).Path
$Large = [IO.Path]::GetFullPath($Large)
$pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
$work = Join-Path ([IO.Path]::GetTempPath()) "housesim-ingest-bench-$PID"
New-Item -ItemType Directory -Force $work | Out-Null
$model = Join-Path $Module 'bin' 'models' 'house.onnx'

function Number([string] $Text, [string] $What) {
    $value = 0.0
    if (-not [double]::TryParse($Text, [Globalization.NumberStyles]::Float, [Globalization.CultureInfo]::InvariantCulture, [ref] $value) -or
        [double]::IsNaN($value) -or [double]::IsInfinity($value) -or $value -le 0) {
        throw "No usable figure for $What (got '$Text')."
    }
    $value
}

function Measure-BareInference {
    $figures = @{}
    dotnet $Tool bench-inference --data $Photos --model $model --count 400 | ForEach-Object { $k, $v = $_ -split '=', 2; $figures[$k] = $v }
    if ($LASTEXITCODE -ne 0) { throw 'hstool bench-inference failed.' }
    Number $figures['inference_parallel_images_per_s'] 'bare inference'
}

# Add-HouseVector over the files a script block lists, in a fresh pwsh; the model is loaded before the clock starts.
function Measure-Ingest([string] $List, [string] $Name) {
    $store = Join-Path $work "$Name.db"
    $out = & $pwsh -NoProfile -Command "
        Import-Module '$Module/HouseSimilarity.psd1'
        Get-HouseEmbedding '$(Join-Path $Photos '1_frontal.jpg')' | Out-Null
        `$t = Measure-Command { $List | Add-HouseVector -StorePath '$store' -Collection bench }
        `$p = Get-Process -Id `$PID
        '{0}|{1}|{2}' -f `$t.TotalSeconds, `$p.PeakWorkingSet64, (Get-HouseCollection bench -StorePath '$store').Count
    "
    if ($LASTEXITCODE -ne 0) { throw "The ingest '$Name' failed: $out" }
    $seconds, $peak, $stored = ($out | Select-Object -Last 1) -split '\|'
    $seconds = Number $seconds "$Name seconds"
    $stored = Number $stored "$Name stored"
    [pscustomobject]@{ Rate = $stored / $seconds; Seconds = $seconds; Stored = $stored; PeakMiB = (Number $peak "$Name peak") / 1MB }
}

if (-not (Test-Path $Large) -or (Get-ChildItem $Large).Count -lt 40) {
    Write-Host "Making the camera-sized photos in $Large..."
    dotnet $Tool make-large-photos --data $Photos --out $Large --count 48
    if ($LASTEXITCODE -ne 0) { throw 'hstool make-large-photos failed.' }
}
$large12 = @(Get-ChildItem $Large -Filter '*_4000x3000.jpg')
$dev = @(Get-ChildItem $Photos -Filter *.jpg)

Write-Host 'Decoders side by side (one core)...'
$decoders = dotnet $Tool bench-decode --photos $Large --repeat 2
if ($LASTEXITCODE -ne 0) { throw 'hstool bench-decode failed.' }

Write-Host 'Bare inference...'
$bareBefore = Measure-BareInference

Write-Host "Add-HouseVector on $($large12.Count) JPEGs of 12 MP (each listed 4 times)..."
$onLarge = Measure-Ingest "1..4 | ForEach-Object { Get-ChildItem '$Large' -Filter '*_4000x3000.jpg' }" 'large'

Write-Host "Add-HouseVector on the $($dev.Count) development photos..."
$onDev = Measure-Ingest "Get-ChildItem '$Photos' -Filter *.jpg" 'dev'

Write-Host "Add-HouseVector on $Total photos (hard links)..."
$many = Join-Path $work 'many'
New-Item -ItemType Directory $many | Out-Null
$sources = @($large12) + @($dev)
$bigShare = [Math]::Min([int]($Total * 0.15), $large12.Count * 40)
for ($i = 0; $i -lt $Total; $i++) {
    $source = if ($i -lt $bigShare) { $large12[$i % $large12.Count] } else { $dev[$i % $dev.Count] }
    New-Item -ItemType HardLink -Path (Join-Path $many ('{0:D5}{1}' -f $i, $source.Extension)) -Target $source.FullName | Out-Null
}
$onMany = Measure-Ingest "Get-ChildItem '$many'" 'many'

Write-Host 'Bare inference again...'
$bareAfter = Measure-BareInference
$bare = ($bareBefore + $bareAfter) / 2
Remove-Item $work -Recurse -Force

$cpu = (Get-Content /proc/cpuinfo -ErrorAction SilentlyContinue | Select-String '^model name' | Select-Object -First 1) -replace '.*:\s*', ''
$section = @"

## $(Get-Date -Format 'yyyy-MM-dd HH:mm') UTC: ingest on real photo sizes, $([Environment]::ProcessorCount) cores ($cpu)

Reproduce: ``./build.ps1; pwsh bench/Invoke-IngestBenchmark.ps1 -Module out/HouseSimilarity -Photos ../shared/data/houses -Tool src/HouseSimilarity.Tools/bin/Release/net10.0/hstool.dll``
(photos: $($large12.Count) JPEGs of 4000x3000 and the rest of ``out/bench/large``, made by ``hstool make-large-photos``).

Decode + resize to 224x224 on one core, file bytes in memory (median, mean of $((Get-ChildItem $Large).Count) photos x 2):

$($decoders | Where-Object { $_ -like '|*' } | Out-String)
| measure | value |
|---|---|
| bare inference, parallel, photos decoded beforehand (before / after the ingests) | $('{0:N1}' -f $bareBefore) / $('{0:N1}' -f $bareAfter) images/s |
| Add-HouseVector, 12 MP JPEGs ($($onLarge.Stored) photos, each decoded 4 times: $(4 * $large12.Count) decodes in $('{0:N1}' -f $onLarge.Seconds) s) | $('{0:N1}' -f (4 * $large12.Count / $onLarge.Seconds)) photos/s |
| **12 MP / bare inference** | **$('{0:N2}' -f (4 * $large12.Count / $onLarge.Seconds / $bare))** (floor 0.5) |
| Add-HouseVector, development photos ($($onDev.Stored), about 600x400 to 1024x683) | $('{0:N1}' -f $onDev.Rate) photos/s |
| **development photos / bare inference** | **$('{0:N2}' -f ($onDev.Rate / $bare))** (floor 0.85) |
| Add-HouseVector, $($onMany.Stored) photos ($bigShare of 12 MP, the rest development photos) | $('{0:N1}' -f $onMany.Rate) photos/s in $('{0:N0}' -f $onMany.Seconds) s |
| **peak working set of the pwsh ingesting $($onMany.Stored) photos** | **$('{0:N0}' -f $onMany.PeakMiB) MiB** (ceiling 1024) |
| peak working set, 12 MP run / development photos run | $('{0:N0}' -f $onLarge.PeakMiB) / $('{0:N0}' -f $onDev.PeakMiB) MiB |
"@
Add-Content $Results $section
Write-Host $section
