#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and demonstrates the HouseSimilarity module.
.EXAMPLE
    ./build.ps1                 # Build: out/HouseSimilarity is an importable module
    ./build.ps1 -Task Test      # Build, then xunit + Pester; prints "N passed, N failed"
    ./build.ps1 -Task Demo      # Build, then find similar and duplicate photos among the samples
    ./build.ps1 -Task Model     # Fit the head on ../shared/data/houses 1..240, rebuild, benchmark quality on 241..300
    ./build.ps1 -Task Quality   # Quality benchmark of the built model on houses 241..300 (bench/QUALITY.md)
    ./build.ps1 -Task Bench     # Speed benchmark (bench/RESULTS.md)
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Model', 'Quality', 'Bench')]
    [string[]] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$out = Join-Path $root 'out'
$moduleDir = Join-Path $out 'HouseSimilarity'
$samplesDir = Join-Path $out 'samples'
$toolDir = Join-Path $out 'tool'
$sharedHouses = Join-Path $root '..' 'shared' 'data' 'houses'
# Child shells run the same pwsh as this one (the dotnet local tool when started through `dotnet tool run`).
$pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

function Invoke-Native([string] $File, [string[]] $Arguments) {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Invoke-Build {
    Invoke-Native dotnet @('build', "$root/src/HouseSimilarity.Tools/HouseSimilarity.Tools.csproj", '-c', $Configuration,
        '-o', $toolDir, '--nologo', '-v', 'quiet')
    # Publishing for this machine's runtime copies only its native libraries (not ONNX Runtime's other platforms).
    $rid = [System.Runtime.InteropServices.RuntimeInformation]::RuntimeIdentifier
    if (Test-Path $moduleDir) { Remove-Item $moduleDir -Recurse -Force }
    Invoke-Native dotnet @('publish', "$root/src/HouseSimilarity/HouseSimilarity.csproj", '-c', $Configuration, '-r', $rid,
        '--self-contained', 'false', '-o', "$moduleDir/bin", '--nologo', '-v', 'quiet')
    Copy-Item "$root/HouseSimilarity.psd1", "$root/src/HouseSimilarity/module/*" -Destination $moduleDir
    Get-ChildItem "$moduleDir/bin" -Filter *.pdb | Remove-Item
    # The model the module loads: the NuGet backbone and the committed head composed into one ONNX file.
    Invoke-Native dotnet @("$toolDir/hstool.dll", 'compose', '--models', "$toolDir/models", '--out', "$moduleDir/bin/models/house.onnx")
    # What its distances mean (P(duplicate), false pair rate by collection size), measured by hstool calibrate (models/MODEL.md).
    Copy-Item "$root/models/calibration.json" -Destination "$moduleDir/bin/models/calibration.json"
    Invoke-Native dotnet @("$toolDir/hstool.dll", 'make-help', '--docs', "$root/docs", '--out', "$moduleDir/en-US/HouseSimilarity.dll-Help.xml")
    Copy-Item "$root/docs/about_HouseSimilarity.help.txt" -Destination "$moduleDir/en-US"
    Invoke-Native dotnet @("$toolDir/hstool.dll", 'make-samples', '--data', "$root/samples/houses", '--out', $samplesDir)
    $size = (Get-ChildItem $moduleDir -Recurse -File | Measure-Object Length -Sum).Sum / 1MB
    Write-Host ("Built {0} ({1:N0} MB) and samples in {2}" -f $moduleDir, $size, $samplesDir)
}

function Start-TestPostgres {
    # A real PostgreSQL + pgvector for the PgVector / AlloyDb tests (installed and started idempotently).
    if ($env:HOUSESIM_PG_CONNECTION -or -not $IsLinux) { return }
    $connection = & bash "$root/tools/test-postgres.sh" start | Select-Object -Last 1
    if ($LASTEXITCODE -ne 0) { throw 'tools/test-postgres.sh start failed.' }
    $env:HOUSESIM_PG_CONNECTION = $connection
}

function Invoke-Test {
    $results = Join-Path $out 'test-results'
    New-Item -ItemType Directory -Force $results | Out-Null
    Start-TestPostgres
    # A real headless Chromium for the report tests (Debian's packages, installed once).
    if ($IsLinux) {
        & bash "$root/tools/test-browser.sh" | Out-Null
        if ($LASTEXITCODE -ne 0) { throw 'tools/test-browser.sh failed.' }
    }

    $xunitLog = Join-Path $results 'xunit.log'
    dotnet test "$root/tests/HouseSimilarity.Core.Tests/HouseSimilarity.Core.Tests.csproj" -c $Configuration --nologo 2>&1 |
        Tee-Object -FilePath $xunitLog | Out-Host
    $summary = Select-String -Path $xunitLog -Pattern 'Failed:\s+(\d+), Passed:\s+(\d+)' | Select-Object -Last 1
    $xunitFailed = if ($summary) { [int]$summary.Matches[0].Groups[1].Value } else { 1 }
    $xunitPassed = if ($summary) { [int]$summary.Matches[0].Groups[2].Value } else { 0 }

    # The Milvus contract server the Pester scenarios start (no Milvus runs here; see tests/MilvusContractServer).
    Invoke-Native dotnet @('build', "$root/tests/MilvusContractServer/MilvusContractServer.csproj", '-c', $Configuration,
        '-o', "$out/milvus-contract", '--nologo', '-v', 'quiet')

    # Pester runs in a fresh pwsh -NoProfile, importing the built module the way a user does.
    $pesterJson = Join-Path $results 'pester.json'
    $pester = Get-PesterModule
    $script = "Import-Module '$pester'; `$c = New-PesterConfiguration; `$c.Run.Path = '$root/tests'; `$c.Run.PassThru = `$true; " +
        "`$c.Output.Verbosity = 'Detailed'; `$r = Invoke-Pester -Configuration `$c; " +
        "@{ Passed = `$r.PassedCount; Failed = `$r.FailedCount + `$r.FailedBlocksCount + `$r.FailedContainersCount } | ConvertTo-Json | Set-Content '$pesterJson'"
    & $pwsh -NoProfile -NonInteractive -Command $script | Out-Host
    $pesterResult = if (Test-Path $pesterJson) { Get-Content $pesterJson -Raw | ConvertFrom-Json } else { [pscustomobject]@{ Passed = 0; Failed = 1 } }

    $passed = $xunitPassed + $pesterResult.Passed
    $failed = $xunitFailed + $pesterResult.Failed
    Write-Host "xunit: $xunitPassed passed, $xunitFailed failed; Pester: $($pesterResult.Passed) passed, $($pesterResult.Failed) failed"
    Write-Host "$passed passed, $failed failed"
    if ($failed -gt 0) { exit 1 }
}

function Get-PesterModule {
    # Pester 6.2.0 comes from NuGet as a package download of the test project.
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { Join-Path ([Environment]::GetFolderPath('UserProfile')) '.nuget' 'packages' }
    $psd1 = Join-Path $packages 'pester' '6.2.0' 'tools' 'Pester.psd1'
    if (-not (Test-Path $psd1)) { Invoke-Native dotnet @('restore', "$root/tests/HouseSimilarity.Core.Tests/HouseSimilarity.Core.Tests.csproj", '--nologo') }
    $psd1
}

function Invoke-Demo {
    & $pwsh -NoProfile -NonInteractive -File "$root/tools/demo.ps1" -Module $moduleDir -Samples $samplesDir
    if ($LASTEXITCODE -ne 0) { throw "The demo failed." }
}

function Invoke-Model {
    # Fits the head on houses 1..240 (feature maps cached in out/cache), rebuilds, measures it on houses 241..300 and
    # sets the duplicate threshold to the largest distance with pairwise precision >= 0.999 there (models/MODEL.md).
    if (-not (Test-Path $sharedHouses)) { throw "Fitting the head needs the development photos in $sharedHouses." }
    $train = @("$toolDir/hstool.dll", 'train', '--data', $sharedHouses, '--models', "$toolDir/models", '--out', "$root/models", '--cache', "$out/cache")
    Invoke-Native dotnet $train
    Invoke-Build
    $report = Invoke-Quality -OutFile "$out/bench/QUALITY-calibration.md"
    $threshold = ($report | Select-String 'recommended threshold .*\| ([0-9.]+) \|' | Select-Object -Last 1).Matches[0].Groups[1].Value
    Invoke-Native dotnet ($train + @('--threshold', $threshold))
    Invoke-Build
    # Measured with the new model, so the calibration file matches it; the module gets the new file.
    Invoke-Native dotnet @("$toolDir/hstool.dll", 'calibrate', '--data', $sharedHouses, '--models', "$moduleDir/bin/models", '--out', "$root/models/calibration.json")
    Copy-Item "$root/models/calibration.json" -Destination "$moduleDir/bin/models/calibration.json"
    Invoke-Quality | Out-Null
}

function Invoke-Quality([string] $OutFile = "$root/bench/QUALITY.md") {
    if (-not (Test-Path $sharedHouses)) { throw "The quality benchmark needs the development photos in $sharedHouses." }
    $report = dotnet "$toolDir/hstool.dll" quality --data $sharedHouses --models "$moduleDir/bin/models" --first 241 --last 300 --out $OutFile
    if ($LASTEXITCODE -ne 0) { throw 'The quality benchmark failed.' }
    $report
}

function Invoke-Bench {
    & $pwsh -NoProfile -NonInteractive -File "$root/bench/Invoke-Benchmark.ps1" -Module $moduleDir -Photos $sharedHouses -Tool "$toolDir/hstool.dll"
    if ($LASTEXITCODE -ne 0) { throw "The benchmark failed." }
}

Push-Location $root
try {
    Invoke-Build
    foreach ($t in $Task) {
        switch ($t) {
            'Test' { Invoke-Test }
            'Demo' { Invoke-Demo }
            'Model' { Invoke-Model }
            'Quality' { Invoke-Quality }
            'Bench' { Invoke-Bench }
        }
    }
}
finally {
    Pop-Location
}
