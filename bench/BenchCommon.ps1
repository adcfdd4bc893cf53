# Shared by the bench/Invoke-*.ps1 scripts (dot-sourced): the real embeddings they start from, the key=value lines the
# benchmark programs print, the machine they ran on and a Find-HouseDuplicate scan timed in its own pwsh.

$script:BenchPwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

function Get-BenchEmbedding {
    <# The development photos embedded with Get-HouseEmbedding, once per model file: @{ File; ModelId }. The file is
       int32 count, int32 dimension, then count x dimension float32 (bench/BenchSupport.cs Vectors.Read). #>
    param([Parameter(Mandatory)] [string] $Module, [Parameter(Mandatory)] [string] $Photos, [Parameter(Mandatory)] [string] $Cache)
    if (-not (Test-Path $Photos)) { throw "The photos to embed are not in $Photos." }
    $model = Join-Path $Module 'bin' 'models' 'house.onnx'
    $modelHash = (Get-FileHash $model -Algorithm SHA256).Hash.Substring(0, 12).ToLowerInvariant()
    New-Item -ItemType Directory -Force $Cache | Out-Null
    $vectors = Join-Path $Cache "embeddings-$modelHash.bin"
    $modelIdFile = "$vectors.model"
    if (-not (Test-Path $vectors) -or -not (Test-Path $modelIdFile)) {
        Write-Host "Embedding the photos in $Photos with Get-HouseEmbedding (once per model)..."
        & $script:BenchPwsh -NoProfile -Command "
            `$ErrorActionPreference = 'Stop'
            Import-Module '$Module/HouseSimilarity.psd1'
            `$e = @(Get-ChildItem '$Photos' -Filter *.jpg | Sort-Object Name | Get-HouseEmbedding)
            `$w = [IO.BinaryWriter]::new([IO.File]::Create('$vectors.tmp'))
            try {
                `$w.Write([int]`$e.Count); `$w.Write([int]`$e[0].Vector.Count)
                foreach (`$x in `$e) { foreach (`$f in `$x.Vector) { `$w.Write([single]`$f) } }
            } finally { `$w.Dispose() }
            Set-Content '$modelIdFile' `$e[0].ModelId
            Write-Host ('{0} photos embedded' -f `$e.Count)
        "
        if ($LASTEXITCODE -ne 0) { throw 'Embedding the photos failed.' }
        Move-Item "$vectors.tmp" $vectors -Force
    }
    [pscustomobject]@{ File = $vectors; ModelId = (Get-Content $modelIdFile -Raw).Trim() }
}

function Read-BenchValue {
    <# The key=value lines of a benchmark program's output, as a hashtable; other lines are left out. #>
    param($Lines)
    $values = @{}
    foreach ($line in $Lines) { if ($line -match '^([a-z0-9_]+)=(.*)$') { $values[$Matches[1]] = $Matches[2] } }
    $values
}

function Get-BenchCpu {
    <# The processor's model name (Linux), for the headings of the results. #>
    (Get-Content /proc/cpuinfo -ErrorAction SilentlyContinue | Select-String '^model name' | Select-Object -First 1) -replace '.*:\s*', ''
}

function Measure-DuplicateScan {
    <# Find-HouseDuplicate over a collection in a new pwsh, as a user runs it: the module imported, a warm-up scan of
       the sample photos (the model and calibration load), then the scan with -Verbose. Returns wall_s, peak_mib,
       peak_before_mib (the pwsh's peak working set before the scan), groups, threshold and the threshold's verbose
       line; each group's member Ids go to $GroupsFile, one tab-separated line per group. #>
    param([Parameter(Mandatory)] [string] $Module, [Parameter(Mandatory)] [string] $Samples,
        [Parameter(Mandatory)] [string] $StoreArguments, [Parameter(Mandatory)] [string] $GroupsFile)
    $lines = & $script:BenchPwsh -NoProfile -Command "
        `$ErrorActionPreference = 'Stop'
        Import-Module '$Module/HouseSimilarity.psd1'
        `$null = Find-HouseDuplicate -Path '$Samples'
        `$self = [Diagnostics.Process]::GetCurrentProcess()
        `$self.Refresh(); `$before = `$self.PeakWorkingSet64
        `$watch = [Diagnostics.Stopwatch]::StartNew()
        `$groups = @(Find-HouseDuplicate $StoreArguments -Verbose 4>&1 | ForEach-Object {
            if (`$_ -is [Management.Automation.VerboseRecord]) { if (`$_.Message -like 'Threshold*') { 'verbose=' + `$_.Message } } else { `$_ } })
        `$watch.Stop()
        `$self.Refresh()
        'wall_s={0:F1}' -f `$watch.Elapsed.TotalSeconds
        'peak_before_mib={0:F0}' -f (`$before / 1MB)
        'peak_mib={0:F0}' -f (`$self.PeakWorkingSet64 / 1MB)
        `$found = @(`$groups | Where-Object { `$_ -isnot [string] })
        `$groups | Where-Object { `$_ -is [string] }
        'groups={0}' -f `$found.Count
        if (`$found.Count -gt 0) { 'threshold={0:F3}' -f `$found[0].Threshold }
        Set-Content '$GroupsFile' (`$found | ForEach-Object { `$_.Members.Id -join [char]9 })
    "
    if ($LASTEXITCODE -ne 0) { throw "Find-HouseDuplicate $StoreArguments failed ($LASTEXITCODE)." }
    $scan = Read-BenchValue $lines
    $scan['verbose'] = ($lines | Where-Object { $_ -like 'verbose=*' }) -replace '^verbose=', ''
    foreach ($key in 'wall_s', 'peak_mib', 'peak_before_mib', 'groups') {
        if (-not $scan[$key]) { throw "Find-HouseDuplicate $StoreArguments printed no $key." }
    }
    $scan
}
