#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '6.0' }
# Every store cmdlet on every backend: the scenarios are written once and run against the embedded store, against
# a real PostgreSQL + pgvector server (as PgVector, and as AlloyDb with the HNSW index: AlloyDB Omni itself needs Docker)
# and against Milvus: the contract server (a strict fake of its REST API), or a live Milvus named by HOUSESIM_MILVUS_URI.
# The server: $env:HOUSESIM_PG_CONNECTION (build.ps1 -Task Test sets it), else tools/test-postgres.sh starts one.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestEnvironment.ps1')
    Set-TestDataHome 'housesim-pester-store'
    $testPostgres = Join-Path $root 'tools' 'test-postgres.sh'
    # Collections of this run: unique, dropped at the end.
    $run = "pester_$PID"

    if (-not $env:HOUSESIM_PG_CONNECTION) {
        $env:HOUSESIM_PG_CONNECTION = & bash $testPostgres start | Select-Object -Last 1
        if ($LASTEXITCODE -ne 0) { throw 'tools/test-postgres.sh start failed: the PostgreSQL tests need a server.' }
    }
    $pg = $env:HOUSESIM_PG_CONNECTION
    $pgParts = @{}
    foreach ($pair in $pg -split ';' | Where-Object { $_ -match '=' }) {
        $key, $value = $pair -split '=', 2
        $pgParts[$key.Trim().ToLowerInvariant()] = $value.Trim()
    }
    $pgEndpoint = '{0}:{1}' -f $pgParts['host'], ($pgParts['port'] ?? '5432')

    # Milvus: a live server when HOUSESIM_MILVUS_URI is set (opt-in), else the contract server, reached the same way.
    $milvusLive = [bool]$env:HOUSESIM_MILVUS_URI
    if (-not $milvusLive) {
        $milvus = Start-MilvusContract
        $env:HOUSESIM_MILVUS_URI = $milvus.Uri
        $env:HOUSESIM_MILVUS_TOKEN = $milvus.Token
    }

    # The parameters that select a backend: PgVector takes its connection from HOUSESIM_PG_CONNECTION, AlloyDb is
    # pointed at the same server explicitly (HOUSESIM_ALLOYDB_CONNECTION is for a real AlloyDB Omni).
    # -Live: a real AlloyDB Omni named by HOUSESIM_ALLOYDB_CONNECTION (opt-in), reached through that variable.
    function Get-StoreParameters([string] $Backend, [switch] $Live) {
        $parameters = @{ Backend = $Backend }
        if ($Backend -eq 'AlloyDb' -and -not $Live) { $parameters.ConnectionString = $pg }
        $parameters
    }

    # A copy of the module with a differently weighted head (composed as the build does): another model id. Made once.
    $otherModelRoot = Join-Path ([IO.Path]::GetTempPath()) "housesim-pester-othermodel-$PID"
    function Get-OtherModelModule {
        $copy = Join-Path $otherModelRoot 'HouseSimilarity'
        if (-not (Test-Path (Join-Path $copy 'HouseSimilarity.psd1'))) {
            New-Item -ItemType Directory -Force $otherModelRoot | Out-Null
            Copy-Item (Join-Path $root 'out' 'HouseSimilarity') -Destination $copy -Recurse
            $parts = Join-Path $otherModelRoot 'parts'
            Copy-Item (Join-Path $root 'out' 'tool' 'models') -Destination $parts -Recurse
            $head = Join-Path $parts 'head.f32'
            $bytes = [IO.File]::ReadAllBytes($head); $bytes[64] = $bytes[64] -bxor 1; [IO.File]::WriteAllBytes($head, $bytes)
            dotnet (Join-Path $root 'out' 'tool' 'hstool.dll') compose --models $parts --out (Join-Path $copy 'bin' 'models' 'house.onnx') | Out-Null
        }
        Join-Path $copy 'HouseSimilarity.psd1'
    }

    # Runs a script in a fresh runspace with the module imported and returns all its streams, so that a test can count
    # errors and look for secrets in everything a user could see (output, verbose, warnings, progress, errors).
    function Invoke-Isolated([scriptblock] $Script, [hashtable] $Parameters = @{}) {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$modulePath'; `$ProgressPreference = 'Continue'").AddStatement()
            $null = $ps.AddScript($Script.ToString()).AddParameters($Parameters)
            $output = $ps.Invoke()
            $errors = @($ps.Streams.Error)
            $text = @(
                $output | Out-String -Width 400
                $ps.Streams.Verbose | ForEach-Object Message
                $ps.Streams.Warning | ForEach-Object Message
                $ps.Streams.Progress | ForEach-Object { $_.Activity; $_.StatusDescription; $_.CurrentOperation }
                $errors | ForEach-Object { $_ | Out-String -Width 400; $_.Exception.ToString(); $_.TargetObject; $_.CategoryInfo.ToString() }
            ) -join "`n"
            [pscustomobject]@{
                Output = $output; Errors = $errors; Verbose = @($ps.Streams.Verbose); Progress = @($ps.Streams.Progress)
                Warnings = @($ps.Streams.Warning); Text = $text
            }
        }
        finally {
            $ps.Dispose()
        }
    }

    # psql against the test server, as its superuser (for a role with a password of its own).
    function Invoke-Psql([string] $Sql) {
        $psql = (Get-Command psql -ErrorAction SilentlyContinue).Source ?? '/usr/lib/postgresql/15/bin/psql'
        $out = & env "PGPASSWORD=$($pgParts['password'])" $psql -X -q -v ON_ERROR_STOP=1 -h $pgParts['host'] -p ($pgParts['port'] ?? '5432') `
            -U $pgParts['username'] -d $pgParts['database'] -c $Sql 2>&1
        if ($LASTEXITCODE -ne 0) { throw "psql failed: $out" }
    }
}

AfterAll {
    foreach ($backend in 'Local', 'PgVector', 'Milvus', $($env:HOUSESIM_ALLOYDB_CONNECTION ? 'AlloyDbLive' : $null)) {
        if (-not $backend) { continue }
        $parameters = $backend -eq 'AlloyDbLive' ? (Get-StoreParameters AlloyDb -Live) : (Get-StoreParameters $backend)
        Get-HouseCollection @parameters -ErrorAction SilentlyContinue | Where-Object Name -like "$run*" |
            Remove-HouseCollection @parameters -Confirm:$false -ErrorAction SilentlyContinue
    }
    Disconnect-HouseStore
    if (-not $milvusLive) {
        Stop-MilvusContract $milvus
        $env:HOUSESIM_MILVUS_URI = $null
        $env:HOUSESIM_MILVUS_TOKEN = $null
    }
    Remove-Item $env:XDG_DATA_HOME, $otherModelRoot -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Every store cmdlet on <Label>' -ForEach @(
    @{ Backend = 'Local'; Label = 'the Local backend' }
    @{ Backend = 'PgVector'; Label = 'the PgVector backend' }
    @{ Backend = 'AlloyDb'; Label = 'the AlloyDb backend (PostgreSQL + pgvector, HNSW)' }
    @{ Backend = 'Milvus'; Label = "the Milvus backend ($($env:HOUSESIM_MILVUS_URI ? 'live' : 'contract server'))" }
    # Opt-in: a real AlloyDB Omni, with the ScaNN index (built from 10,000 rows on: these collections are searched exactly).
    if ($env:HOUSESIM_ALLOYDB_CONNECTION) { @{ Backend = 'AlloyDb'; Live = $true; Label = 'a live AlloyDB Omni (ScaNN)' } }
) {
    BeforeAll {
        $store = Get-StoreParameters $Backend -Live:$Live
        # Where a collection is created: AlloyDb with the HNSW index on PostgreSQL, ScaNN on a live AlloyDB Omni.
        $create = $Backend -eq 'AlloyDb' ? @{ IndexType = ($Live ? 'ScaNN' : 'Hnsw') } : @{}
        $name = "${run}_$($Backend.ToLowerInvariant())$($Live ? '_live' : '')"
        $mixed = "${name}_mixed"
        $added = Get-ChildItem $originals -Filter *.jpg | Add-HouseVector @store @create -Collection $name -PassThru
    }

    It 'adds photos from Get-ChildItem and lists the collection with its backend and model' {
        $added.Count | Should -Be 18
        $added[0].GetType().FullName | Should -Be 'HouseSimilarity.HouseRecord'
        $collection = Get-HouseCollection $name @store
        $collection.Count | Should -Be 18
        $collection.Backend | Should -Be $Backend
        $collection.ModelId | Should -Be $added[0].ModelId
        # Its index and the metric that index answers, as the table shows them.
        $collection.IndexType | Should -Be ($Backend -eq 'Local' ? 'Exact' : ($Live ? 'ScaNN' : 'Hnsw'))
        $collection.Metric | Should -Be ($Backend -eq 'Local' ? 'L2, L1' : 'L2')
        Get-HouseCollection $name @store | Out-String -Width 120 | Should -Match "$name\s+$Backend\s+18\s+$($collection.IndexType)\s+$($collection.Metric)\s"
        if ($Backend -eq 'Local') {
            $collection.Location | Should -Be (Join-Path $env:XDG_DATA_HOME 'HouseSimilarity' 'houses.db')
        }
        elseif ($Live) {
            $collection.Location | Should -BeLike 'postgresql://*@*:*/*'
        }
        elseif ($Backend -eq 'Milvus') {
            $collection.Location | Should -Be "$env:HOUSESIM_MILVUS_URI/default"
        }
        else {
            $collection.Location | Should -Be "postgresql://$($pgParts['username'])@$pgEndpoint/$($pgParts['database'])"
        }
    }

    It 're-adding the same photos updates them instead of duplicating' {
        Get-ChildItem $originals -Filter *.jpg | Add-HouseVector @store -Collection $name
        (Get-HouseCollection $name @store).Count | Should -Be 18
        $stored = Get-HouseVector @store -Collection $name
        $stored.Count | Should -Be 18
        ($stored.Id | Sort-Object -Unique).Count | Should -Be 18
        $stored[0].Vector.Count | Should -Be 128
    }

    It 'finds the source of an edited copy first, as a duplicate, at the distance Compare-HouseImage measures' {
        foreach ($edit in Get-ChildItem $edits -Filter '241_frontal.*') {
            $found = Find-SimilarHouse $edit.FullName -Top 5 @store -Collection $name
            $found.Count | Should -Be 5
            $found[0].GetType().FullName | Should -Be 'HouseSimilarity.HouseMatch'
            # ($found.Rank would be the array's own Rank property.)
            ($found | ForEach-Object Rank) -join ',' | Should -Be '1,2,3,4,5'
            Split-Path -Leaf $found[0].Path | Should -Be '241_frontal.jpg'
            $found[0].Query | Should -Be $edit.FullName
            $found[0].Distance | Should -BeLessThan $found[1].Distance
            [Math]::Abs($found[0].Similarity - (1 - [Math]::Pow($found[0].Distance, 2) / 2)) | Should -BeLessThan 1e-6
            # True Euclidean distances, whatever the backend.
            $compare = Compare-HouseImage $edit.FullName (Get-HouseVector @store -Collection $name -Id $found[0].Id)
            [Math]::Abs($found[0].Distance - $compare.Distance) | Should -BeLessThan 1e-4
        }
        (Find-SimilarHouse (Join-Path $edits '241_frontal.resize.jpg') -Top 1 @store -Collection $name).IsDuplicate | Should -BeTrue
    }

    It 'reports a byte-identical copy under another name at distance 0, not the photo itself' {
        $m = Find-SimilarHouse (Join-Path $originals '292_frontal.jpg') -Top 3 @store -Collection $name
        $m[0].Path | Should -Be (Join-Path $originals '293_frontal.jpg')
        $m[0].Distance | Should -BeLessThan 1e-6
        $m[0].IsDuplicate | Should -BeTrue
        $m.Path | Should -Not -Contain (Join-Path $originals '292_frontal.jpg')
        (Find-SimilarHouse (Join-Path $originals '292_frontal.jpg') -Top 1 -IncludeSelf @store -Collection $name).Distance | Should -BeLessThan 1e-6
    }

    It 'takes a HouseEmbedding or a stored Id so nothing is embedded twice' {
        $e = Get-HouseEmbedding (Join-Path $edits '242_kitchen.jpeg.jpg')
        Split-Path -Leaf ($e | Find-SimilarHouse -Top 1 @store -Collection $name).Path | Should -Be '242_kitchen.jpg'
        $byId = Find-SimilarHouse -Id (Join-Path $originals '259_bathroom.jpg') -Top 1 @store -Collection $name
        Split-Path -Leaf $byId.Path | Should -Be '296_bathroom.jpg'
        $byId.IsDuplicate | Should -BeTrue
    }

    It 'compares stored photos by Id as it compares the files' {
        $a = Join-Path $originals '242_kitchen.jpg'
        $b = Join-Path $originals '243_kitchen.jpg'
        $stored = Compare-HouseImage (Get-HouseVector @store -Collection $name -Id $a) (Get-HouseVector @store -Collection $name -Id $b)
        $files = Compare-HouseImage $a $b
        [Math]::Abs($stored.Distance - $files.Distance) | Should -BeLessThan 1e-6
        [Math]::Abs($stored.L1Distance - $files.L1Distance) | Should -BeLessThan 1e-5
        $stored.IsDuplicate | Should -Be $files.IsDuplicate
        $twins = Compare-HouseImage (Get-HouseVector @store -Collection $name -Id (Join-Path $originals '292_frontal.jpg')) `
            (Get-HouseVector @store -Collection $name -Id (Join-Path $originals '293_frontal.jpg'))
        $twins.IsIdentical | Should -BeTrue
        $twins.Distance | Should -BeLessThan 1e-6
    }

    It 'ranks by L1 distance on request (Milvus: a clear error, it has no L1 for float vectors)' {
        $query = Join-Path $edits '243_bedroom.mirror.jpg'
        if ($Backend -eq 'Milvus') {
            $e = $null
            try { Find-SimilarHouse $query -Top 3 -Metric L1 @store -Collection $name -ErrorAction Stop } catch { $e = $_ }
            $e.FullyQualifiedErrorId | Should -BeLike 'SearchNotSupported,*'
            $e.Exception.Message | Should -BeLike '*cannot search by L1*Milvus has no L1*'
            $e = $null
            try { Find-SimilarHouse $query -Top 3 -Exact @store -Collection $name -ErrorAction Stop } catch { $e = $_ }
            $e.Exception.Message | Should -BeLike '*cannot search exactly*-IndexType Exact*'
            return
        }
        $l1 = Find-SimilarHouse $query -Top 3 -Metric L1 @store -Collection $name
        $l1[0].Metric | Should -Be 'L1'
        Split-Path -Leaf $l1[0].Path | Should -Be '243_bedroom.jpg'
        $compare = Compare-HouseImage $query $l1[0].Path
        [Math]::Abs($l1[0].Distance - $compare.L1Distance) | Should -BeLessThan 1e-3
        $l1[0].Distance | Should -BeLessOrEqual $l1[1].Distance
    }

    It 'stores good files and reports bad ones in the same pipeline' {
        $bad = Join-Path $TestDrive "bad-add-$Backend"
        New-BadPhotos $bad
        $stored = @(Get-ChildItem $bad | Add-HouseVector @store @create -Collection $mixed -PassThru -ErrorVariable errs -ErrorAction SilentlyContinue)
        $stored.Count | Should -Be 1
        $errs.Count | Should -Be 2
        $errs.FullyQualifiedErrorId | Should -Contain 'ImageFormatNotSupported,HouseSimilarity.Commands.AddHouseVectorCommand'
        $errs.FullyQualifiedErrorId | Should -Contain 'ImageCorrupt,HouseSimilarity.Commands.AddHouseVectorCommand'
        (Get-HouseCollection $mixed @store).Count | Should -Be 1
    }

    It 'Remove-HouseVector honours -WhatIf, then removes by path or by piped match' {
        $target = Join-Path $originals '250_frontal.jpg'
        Remove-HouseVector -Path $target -WhatIf @store -Collection $name
        (Get-HouseCollection $name @store).Count | Should -Be 18
        Remove-HouseVector -Path $target -Confirm:$false @store -Collection $name
        (Get-HouseCollection $name @store).Count | Should -Be 17
        Find-SimilarHouse (Join-Path $originals '260_kitchen.jpg') -Top 1 @store -Collection $name |
            Remove-HouseVector -Confirm:$false -PassThru @store -Collection $name |
            ForEach-Object { $_.GetType().Name } | Should -Be 'HouseRecord'
        (Get-HouseCollection $name @store).Count | Should -Be 16
        Remove-HouseVector -Path $target -Confirm:$false @store -Collection $name -ErrorVariable gone -ErrorAction SilentlyContinue
        $gone[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        Get-HouseVector -Id $target @store -Collection $name -ErrorVariable gone -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $gone[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'records, matches and collections carry their store; piped on, they are acted on there' {
        $other = "${name}_where"
        # Local: the records live in a store file of their own, beside the default one.
        $where = $Backend -eq 'Local' ? @{ StorePath = (Join-Path $env:XDG_DATA_HOME 'where.db') } : $store
        Get-ChildItem $originals -Filter '24*.jpg' | Add-HouseVector @where @create -Collection $other
        # The same collection name in the embedded default store must stay untouched.
        $decoy = Get-ChildItem $originals -Filter '24*.jpg' | Add-HouseVector -Backend Local -Collection $other -PassThru
        $record = Get-HouseVector @where -Collection $other -Id (Join-Path $originals '241_kitchen.jpg')
        $record.Store.Backend | Should -Be $Backend
        $record.Store.Collection | Should -Be $other
        $record.Collection | Should -Be $other
        $record.Store.Location | Should -Be (Get-HouseCollection $other @where).Location
        "$($record.Store)" | Should -Not -Match 'Password|housesim;'
        $match = Find-SimilarHouse (Join-Path $edits '242_kitchen.jpeg.jpg') -Top 1 @where -Collection $other
        $match.Store.Backend | Should -Be $Backend
        $match.Collection | Should -Be $other

        # No store parameters: the record's own store and collection, not the session's default ones.
        $record | Remove-HouseVector -Confirm:$false
        $match | Remove-HouseVector -Confirm:$false
        (Get-HouseCollection $other @where).Count | Should -Be 10
        (Get-HouseCollection $other -Backend Local).Count | Should -Be 12
        $match | Get-HouseVector -ErrorVariable gone -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $gone[0].FullyQualifiedErrorId | Should -BeLike 'RecordNotFound,*'

        # A command line that names another collection is refused for that record, and nothing is removed.
        $next = Get-HouseVector @where -Collection $other | Select-Object -First 1
        $next | Remove-HouseVector -Collection "${other}_nope" -Confirm:$false -ErrorVariable refused -ErrorAction SilentlyContinue
        $refused[0].FullyQualifiedErrorId | Should -BeLike 'StoreMismatch,*'
        $refused[0].Exception.Message | Should -BeLike "*comes from collection '$other' in $Backend*names collection '${other}_nope'*"
        (Get-HouseCollection $other @where).Count | Should -Be 10

        # Through JSON the record keeps where it came from; without the store's parameters it cannot be reached.
        $json = $next | Select-Object Id, Path, Store | ConvertTo-Json -Depth 3 | ConvertFrom-Json
        if ($Backend -ne 'Local') {
            $json | Remove-HouseVector -Confirm:$false -ErrorVariable unreachable -ErrorAction SilentlyContinue
            $unreachable[0].FullyQualifiedErrorId | Should -BeLike 'StoreMismatch,*'
        }
        $json | Remove-HouseVector @where -Confirm:$false
        (Get-HouseCollection $other @where).Count | Should -Be 9

        # A piped collection is removed from its own store: the embedded namesake stays.
        Get-HouseCollection $other @where | Remove-HouseCollection -Confirm:$false
        Get-HouseCollection $other @where -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        (Get-HouseCollection $other -Backend Local).Count | Should -Be 12
        Remove-HouseCollection $other -Backend Local -Confirm:$false
    }

    It 'refuses a collection built with another model, naming both and the fix' {
        $copy = Get-OtherModelModule
        $query = Join-Path $originals '241_frontal.jpg'
        $select = "-Backend $Backend" + ($store.ConnectionString ? ' -ConnectionString $env:HOUSESIM_PG_CONNECTION' : '')
        # (A live AlloyDB Omni is reached through HOUSESIM_ALLOYDB_CONNECTION, which the child inherits.)
        $out = & $pwshPath -NoProfile -Command "`$env:XDG_DATA_HOME = '$env:XDG_DATA_HOME'; Import-Module '$copy'
            try { Find-SimilarHouse '$query' $select -Collection $name -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }
            try { Add-HouseVector '$query' $select -Collection $name -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId }
            (Get-HouseCollection $name $select).Count"
        $out[0] | Should -Be 'ModelMismatch,HouseSimilarity.Commands.FindSimilarHouseCommand'
        $out[1] | Should -Match "Collection '$name' was built with model .* re-add"
        $out[2] | Should -Be 'ModelMismatch,HouseSimilarity.Commands.AddHouseVectorCommand'
        $out[3] | Should -Be '16'
    }

    It 'a missing collection is one non-terminating CollectionNotFound error, the same in every cmdlet' {
        $photos = (Join-Path $originals '241_frontal.jpg'), (Join-Path $originals '242_frontal.jpg')
        foreach ($command in { Find-SimilarHouse $photos @store -Collection "${name}_nothing" },
            { Get-HouseVector @store -Collection "${name}_nothing" }, { Get-HouseCollection "${name}_nothing" @store },
            { Remove-HouseVector $photos @store -Collection "${name}_nothing" -Confirm:$false }) {
            $errs = @(& { $ErrorActionPreference = 'Continue'; & $command } 2>&1 | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
            $errs.Count | Should -Be 1 -Because "$command"
            $errs[0].FullyQualifiedErrorId | Should -BeLike 'CollectionNotFound,*'
            $errs[0].Exception.Message | Should -BeLike "*Collection '${name}_nothing' does not exist in $Backend *Add-HouseVector*"
        }
        { Find-SimilarHouse $photos[0] @store -Collection "${name}_nothing" -ErrorAction Stop } | Should -Throw "*does not exist*"
    }

    It 'refuses a collection name like "x; DROP TABLE y" before it opens the store' {
        $hostile = 'x; DROP TABLE y'
        $photo = Join-Path $originals '241_frontal.jpg'
        foreach ($command in { Add-HouseVector $photo @store -Collection $hostile -ErrorAction Stop },
            { Find-SimilarHouse $photo @store -Collection $hostile -ErrorAction Stop },
            { Remove-HouseCollection $hostile @store -Confirm:$false -ErrorAction Stop }) {
            $e = $null
            try { & $command } catch { $e = $_ }
            $e.FullyQualifiedErrorId | Should -BeLike 'InvalidCollectionName,*'
            $e.Exception.Message | Should -BeLike '*not a valid collection name*'
        }
        if ($Backend -ne 'Local') {
            # Pointed at a port where nothing listens, the name is still what is refused: no connection was tried.
            $nowhere = $Backend -eq 'Milvus' ? @{ Uri = 'http://127.0.0.1:1' } : @{ ConnectionString = 'Host=127.0.0.1;Port=1;Database=nowhere;Username=nobody;Timeout=3' }
            { Add-HouseVector $photo -Backend $Backend @nowhere -Collection $hostile -ErrorAction Stop } |
                Should -Throw '*not a valid collection name*'
        }
        (Get-HouseCollection @store).Name | Should -Not -Contain $hostile
    }

    It 'Remove-HouseCollection asks first and removes only the named collection' {
        Remove-HouseCollection $mixed -WhatIf @store
        (Get-HouseCollection $mixed @store).Count | Should -Be 1
        Get-HouseCollection $mixed @store | Remove-HouseCollection -Confirm:$false @store
        Get-HouseCollection $mixed @store -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        (Get-HouseCollection $name @store).Count | Should -Be 16
        Remove-HouseCollection $name -Confirm:$false @store
        Get-HouseCollection $name @store -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}

Describe 'The same data on every backend' {
    BeforeAll {
        $embeddings = Get-ChildItem $originals, $edits -File | Get-HouseEmbedding
        $backends = 'Local', 'PgVector', 'AlloyDb', 'Milvus'
        foreach ($backend in $backends) {
            $store = Get-StoreParameters $backend
            $embeddings | Add-HouseVector @store -Collection "${run}_same"
        }
        $queries = $embeddings | Where-Object { (Split-Path -Leaf $_.Path) -in
            '241_frontal.watermark.jpg', '242_kitchen.jpg', '243_bedroom.crop.jpg', '292_frontal.jpg', '259_bathroom.jpg' }
    }

    It 'holds <_> photos in each' -ForEach @(39) {
        foreach ($backend in $backends) {
            $store = Get-StoreParameters $backend
            (Get-HouseCollection "${run}_same" @store).Count | Should -Be $_
        }
    }

    It 'exact search gives the same ids in the same order, distances within 1e-4 (Milvus, its search: 1e-3), in <_>' -ForEach @('L2', 'L1') {
        $metric = $_
        $queries.Count | Should -Be 5
        foreach ($query in $queries) {
            $local = $query | Find-SimilarHouse -Top 10 -Metric $metric -Backend Local -Collection "${run}_same"
            $local.Count | Should -Be 10
            foreach ($backend in 'PgVector', 'AlloyDb', $($metric -eq 'L2' ? 'Milvus' : $null)) {
                if (-not $backend) { continue }
                $store = Get-StoreParameters $backend
                # Milvus has no exact search on an HNSW collection; at 39 photos (ef 64) its search is exact all the same.
                $exact = @{ Exact = $backend -ne 'Milvus' }
                $remote = $query | Find-SimilarHouse -Top 10 -Metric $metric @exact @store -Collection "${run}_same"
                ($remote.Id -join "`n") | Should -Be ($local.Id -join "`n") -Because "$backend, query $($query.Path)"
                for ($i = 0; $i -lt 10; $i++) {
                    [Math]::Abs($remote[$i].Distance - $local[$i].Distance) | Should -BeLessThan ($backend -eq 'Milvus' ? 1e-3 : 1e-4)
                }
            }
        }
    }

    It 'a PgVector collection created for L1 (-IndexMetric L1) answers L1 searches through its index like the exact scan' {
        $store = Get-StoreParameters 'PgVector'
        $embeddings | Add-HouseVector @store -Collection "${run}_l1" -IndexMetric L1
        foreach ($query in $queries) {
            $local = $query | Find-SimilarHouse -Top 10 -Metric L1 -Backend Local -Collection "${run}_same"
            $indexed = $query | Find-SimilarHouse -Top 10 -Metric L1 @store -Collection "${run}_l1"
            # An index scan orders by distance only: photos at the same distance (a PNG copy) may swap places.
            $indexed.Count | Should -Be 10
            for ($i = 0; $i -lt 10; $i++) {
                [Math]::Abs($indexed[$i].Distance - $local[$i].Distance) | Should -BeLessThan 1e-4
            }
            $cut = $local[9].Distance - 1e-4
            (($indexed | Where-Object Distance -lt $cut).Id | Sort-Object) -join "`n" |
                Should -Be ((($local | Where-Object Distance -lt $cut).Id | Sort-Object) -join "`n")
        }
        Remove-HouseCollection "${run}_l1" @store -Confirm:$false
    }

    AfterAll {
        foreach ($backend in $backends) {
            $store = Get-StoreParameters $backend
            Remove-HouseCollection "${run}_same" @store -Confirm:$false -ErrorAction SilentlyContinue
        }
    }
}

Describe 'Choosing the store: parameters, then Connect-HouseStore, then HOUSESIM_* variables' {
    BeforeAll {
        $saved = @{ Backend = $env:HOUSESIM_BACKEND; Pg = $env:HOUSESIM_PG_CONNECTION; Alloy = $env:HOUSESIM_ALLOYDB_CONNECTION }
        $nowhere = 'Host=127.0.0.1;Port=1;Database=nowhere;Username=nobody;Timeout=3'
        $photo = Get-HouseEmbedding (Join-Path $originals '241_frontal.jpg')
        $sel = "${run}_select"
        $photo | Add-HouseVector -Backend PgVector -Collection $sel
        $photo | Add-HouseVector -Backend Local -Collection $sel
        $localOnly = "${run}_localonly"
        $photo | Add-HouseVector -Backend Local -Collection $localOnly
    }

    AfterEach {
        Disconnect-HouseStore
        $env:HOUSESIM_BACKEND = $saved.Backend
        $env:HOUSESIM_PG_CONNECTION = $saved.Pg
        $env:HOUSESIM_ALLOYDB_CONNECTION = $saved.Alloy
    }

    AfterAll {
        Remove-HouseCollection $sel -Backend PgVector -ConnectionString $saved.Pg -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'without anything set, the embedded store; HOUSESIM_BACKEND and HOUSESIM_PG_CONNECTION choose the server' {
        $env:HOUSESIM_BACKEND = $null
        (Get-HouseCollection $localOnly).Backend | Should -Be 'Local'
        $env:HOUSESIM_BACKEND = 'pgvector'
        (Get-HouseCollection $sel).Backend | Should -Be 'PgVector'
        Get-HouseCollection $localOnly -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        $env:HOUSESIM_PG_CONNECTION = $nowhere
        { Get-HouseCollection -ErrorAction Stop } | Should -Throw '*127.0.0.1:1*'
        $env:HOUSESIM_BACKEND = 'Milvus2'
        $e = $null
        try { Get-HouseCollection -ErrorAction Stop } catch { $e = $_ }
        $e.FullyQualifiedErrorId | Should -BeLike 'InvalidStoreSettings,*'
        $e.Exception.Message | Should -BeLike "*HOUSESIM_BACKEND is 'Milvus2'*Local, PgVector, AlloyDb, Milvus*"
    }

    It 'the session default beats the environment, explicit parameters beat the session default' {
        $env:HOUSESIM_BACKEND = 'PgVector'
        $env:HOUSESIM_PG_CONNECTION = $nowhere
        $connection = Connect-HouseStore -Backend PgVector -ConnectionString $saved.Pg -Collection $sel -PassThru
        $connection.GetType().Name | Should -Be 'HouseStoreConnection'
        $connection.Backend | Should -Be 'PgVector'
        $connection.Collection | Should -Be $sel
        $connection.IndexType | Should -Be 'Hnsw'
        $connection.Location | Should -Be "postgresql://$($pgParts['username'])@$pgEndpoint/$($pgParts['database'])"
        # The session's server and collection, not the variable's.
        (Get-HouseVector).Id | Should -Be $photo.Id
        (Find-SimilarHouse -Id $photo.Id -IncludeSelf -Top 1).Id | Should -Be $photo.Id
        # Explicit parameters win, one by one.
        { Get-HouseVector -ConnectionString $nowhere -ErrorAction Stop } | Should -Throw '*127.0.0.1:1*'
        (Get-HouseCollection $localOnly -Backend Local).Backend | Should -Be 'Local'
        (Get-HouseCollection $localOnly -StorePath (Join-Path $env:XDG_DATA_HOME 'HouseSimilarity' 'houses.db')).Backend | Should -Be 'Local'
        { Get-HouseVector -Collection "${sel}_other" -ErrorAction Stop } | Should -Throw "*'${sel}_other' does not exist in PgVector postgresql://*"
        # Back to the variables.
        Disconnect-HouseStore
        { Get-HouseVector -Collection $sel -ErrorAction Stop } | Should -Throw '*127.0.0.1:1*'
    }

    It 'a failed Connect-HouseStore keeps the previous default, and says why in one error' {
        Connect-HouseStore -Backend Local -Collection $localOnly
        $wrong = [pscredential]::new($pgParts['username'], (ConvertTo-SecureString 'Not-The-Pa55word' -AsPlainText -Force))
        $e = $null
        try { Connect-HouseStore -Backend PgVector -ConnectionString $saved.Pg -Credential $wrong -ErrorAction Stop } catch { $e = $_ }
        $e.CategoryInfo.Category | Should -Be 'AuthenticationError'
        $e.Exception.Message | Should -Not -Match 'Not-The-Pa55word'
        (Get-HouseVector).Id | Should -Be $photo.Id
        (Get-HouseCollection $localOnly).Backend | Should -Be 'Local'
    }

    It 'settings that do not fit the backend are clear errors' {
        { Get-HouseCollection -Backend Local -ConnectionString $saved.Pg -ErrorAction Stop } | Should -Throw '*-ConnectionString applies to the PgVector and AlloyDb backends, not to Local*'
        { Get-HouseCollection -Backend Local -Credential ([pscredential]::new('u', (ConvertTo-SecureString 'p' -AsPlainText -Force))) -ErrorAction Stop } |
            Should -Throw '*-Credential applies to the PgVector, AlloyDb and Milvus backends, not to Local*'
        { Get-HouseCollection -Backend PgVector -Uri http://127.0.0.1:1 -ErrorAction Stop } | Should -Throw '*-Uri applies to the Milvus backend, not to PgVector*'
        { Get-HouseCollection -Backend PgVector -StorePath ./x.db -ErrorAction Stop } | Should -Throw '*-StorePath applies to the Local backend*'
        { $photo | Add-HouseVector -Backend PgVector -IndexType ScaNN -Collection $sel -ErrorAction Stop } | Should -Throw '*PgVector backend has no ScaNN index*-Backend AlloyDb for ScaNN*'
        $env:HOUSESIM_ALLOYDB_CONNECTION = $null
        { Get-HouseCollection -Backend AlloyDb -ErrorAction Stop } | Should -Throw '*needs a connection string*HOUSESIM_ALLOYDB_CONNECTION*'
    }
}

Describe 'Faults: wrong password, unreachable server, restart in the middle of an ingest' {
    BeforeAll {
        $photos = Get-ChildItem $originals -Filter *.jpg
    }

    It 'a wrong password (in the <Via>) is one terminating error that never shows the password' -ForEach @(
        @{ Via = 'Credential' }
        @{ Via = 'ConnectionString' }
    ) {
        $secret = 'Wr0ng-S3cret-Pa55'
        $r = Invoke-Isolated -Parameters @{ Photos = $originals; Pg = $pg; User = $pgParts['username']; Secret = $secret; Via = $Via } -Script {
            param($Photos, $Pg, $User, $Secret, $Via)
            if ($Via -eq 'Credential') {
                $credential = [pscredential]::new($User, (ConvertTo-SecureString $Secret -AsPlainText -Force))
                Get-ChildItem $Photos -Filter *.jpg | Add-HouseVector -Backend PgVector -Credential $credential -Collection wrongpass -Verbose
            }
            else {
                $wrong = ($Pg -split ';' | Where-Object { $_ -notmatch '^\s*Password\s*=' }) + "Password=$Secret" -join ';'
                Get-ChildItem $Photos -Filter *.jpg | Add-HouseVector -Backend PgVector -ConnectionString $wrong -Collection wrongpass -Verbose
            }
        }
        $r.Errors.Count | Should -Be 1 -Because ($r.Errors | Out-String)
        $r.Errors[0].FullyQualifiedErrorId | Should -Be 'StoreAuthenticationFailed,HouseSimilarity.Commands.AddHouseVectorCommand'
        $r.Errors[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
        $r.Errors[0].Exception.Message | Should -BeLike "Cannot connect to PostgreSQL at $pgEndpoint*password*"
        $r.Errors[0].Exception.Message | Should -Not -Match "`n|\bat [A-Z]\w+\."
        $r.Text | Should -Not -Match ([regex]::Escape($secret))
        $r.Output | Should -BeNullOrEmpty
    }

    It 'an unreachable server is one terminating error naming host and port' {
        $r = Invoke-Isolated -Parameters @{ Photos = $originals } -Script {
            param($Photos)
            Get-ChildItem $Photos -Filter *.jpg | Add-HouseVector -Backend PgVector -Collection nowhere `
                -ConnectionString 'Host=127.0.0.1;Port=1;Database=nowhere;Username=nobody;Password=Unreach4ble-Secret;Timeout=3'
            Find-SimilarHouse (Join-Path $Photos '241_frontal.jpg') -Backend AlloyDb -Collection nowhere `
                -ConnectionString 'Host=127.0.0.1;Port=1;Database=nowhere;Username=nobody;Password=Unreach4ble-Secret;Timeout=3'
        }
        $r.Errors.Count | Should -Be 2
        $r.Errors.CategoryInfo.Category | Select-Object -Unique | Should -Be 'ConnectionError'
        $r.Errors.Exception.Message | ForEach-Object { $_ | Should -BeLike '*127.0.0.1:1*' }
        $r.Text | Should -Not -Match 'Unreach4ble-Secret'
    }

    It 'with a password of its own, nothing a user sees shows it: output, verbose, progress, warnings, errors' {
        $role = "hs_pester_role_$PID"
        $secret = "Pester-$([guid]::NewGuid().ToString('N'))"
        Invoke-Psql "CREATE ROLE $role LOGIN SUPERUSER PASSWORD '$secret'"
        try {
            $plain = ($pg -split ';' | Where-Object { $_ -notmatch '^\s*(Password|Username)\s*=' }) -join ';'
            $r = Invoke-Isolated -Parameters @{ Plain = $plain; Role = $role; Secret = $secret; Photos = $originals; Edits = $edits; Name = "${run}_role" } -Script {
                param($Plain, $Role, $Secret, $Photos, $Edits, $Name)
                $VerbosePreference = 'Continue'
                $credential = [pscredential]::new($Role, (ConvertTo-SecureString $Secret -AsPlainText -Force))
                Connect-HouseStore -Backend PgVector -ConnectionString $Plain -Credential $credential -Collection $Name -PassThru
                Get-ChildItem $Photos -Filter '24*.jpg' | Add-HouseVector -PassThru | Select-Object -Last 1
                Find-SimilarHouse (Join-Path $Edits '241_frontal.jpeg.jpg') -Top 3
                Get-HouseCollection $Name
                Get-HouseVector -Id nothing-here
                Find-SimilarHouse (Join-Path $Photos '241_frontal.jpg') -Collection "${Name}_missing"
                Get-HouseVector -ConnectionString "$Plain;Username=$Role;Password=$Secret" -Collection $Name | Select-Object -Last 1
                Remove-HouseCollection $Name -Confirm:$false
                Disconnect-HouseStore
            }
            $r.Output.Count | Should -BeGreaterThan 5
            $r.Verbose.Count | Should -BeGreaterThan 3
            $r.Progress.Count | Should -BeGreaterThan 0
            $r.Errors.Count | Should -Be 2
            $r.Text | Should -Match ([regex]::Escape("postgresql://$role@$pgEndpoint"))
            $r.Text | Should -Not -Match ([regex]::Escape($secret))
            $r.Output | ConvertTo-Json -Depth 3 -WarningAction SilentlyContinue | Should -Not -Match ([regex]::Escape($secret))
        }
        finally {
            Invoke-Psql "DROP OWNED BY $role; DROP ROLE IF EXISTS $role"
        }
    }

    It 'Ctrl+C ends a PgVector ingest promptly and leaves a consistent, searchable collection' {
        $name = "${run}_stopped"
        $stop = Stop-Ingest "-Backend PgVector -Collection $name -BatchSize 4" {
            (Get-HouseCollection $name -Backend PgVector -ErrorAction SilentlyContinue).Count -ge 4 }
        $stop.StopSeconds | Should -BeLessThan 3
        $stop.Completed | Should -BeTrue
        $collection = Get-HouseCollection $name -Backend PgVector
        $collection.Count | Should -BeGreaterOrEqual 4
        $collection.Count | Should -BeLessOrEqual 18
        $collection.Count % 4 | Should -Be (18 -eq $collection.Count ? 2 : 0) -Because 'batches of 4 are stored whole'
        (Find-SimilarHouse (Join-Path $originals '241_frontal.jpg') -Backend PgVector -Collection $name -Top 1 -IncludeSelf).Distance |
            Should -BeGreaterOrEqual 0
        Remove-HouseCollection $name -Backend PgVector -Confirm:$false
    }

    It 'a server restarted in the middle of an ingest loses nothing silently; running it again completes the collection' {
        $name = "${run}_restart"
        $embeddings = Get-ChildItem $originals, $edits -File | Get-HouseEmbedding
        $port = $pgParts['port'] ?? '5432'
        # First a quick restart (the store retries a batch once, after a second, on a fresh connection: it may ride
        # through), then the server is down for longer than that retry, so that batches are lost and must be reported.
        $restart = Start-ThreadJob -ArgumentList $testPostgres, $port -ScriptBlock {
            param($Script, $Port)
            Start-Sleep -Milliseconds 600
            $output = & env "HOUSESIM_PG_PORT=$Port" bash $Script restart 2>&1
            $codes = @($LASTEXITCODE)
            Start-Sleep -Milliseconds 500
            $output += & env "HOUSESIM_PG_PORT=$Port" bash $Script stop 2>&1
            $codes += $LASTEXITCODE
            Start-Sleep -Milliseconds 2500
            $output += & env "HOUSESIM_PG_PORT=$Port" bash $Script start 2>&1
            $codes += $LASTEXITCODE
            [pscustomobject]@{ ExitCode = ($codes | Measure-Object -Maximum).Maximum; Output = "$output"; Done = [DateTime]::UtcNow }
        }
        $started = [DateTime]::UtcNow
        # Slowed down so that the restarts land in the middle; batches of 2 photos.
        $reported = $embeddings | ForEach-Object { Start-Sleep -Milliseconds 120; $_ } |
            Add-HouseVector -Backend PgVector -Collection $name -BatchSize 2 -PassThru -ErrorVariable notStored -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $ended = [DateTime]::UtcNow
        $result = $restart | Wait-Job -Timeout 60 | Receive-Job
        $restart | Remove-Job -Force
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $result.Done | Should -BeLessThan $ended -Because 'the server must be back while the ingest runs'

        $stored = @(Get-HouseVector -Backend PgVector -Collection $name).Id
        $failed = @($notStored | ForEach-Object TargetObject)
        foreach ($e in $notStored) {
            $e.FullyQualifiedErrorId | Should -BeLike 'NotStored,*'
            $e.Exception.Message | Should -BeLike "'*' was not stored in collection '$name'*"
        }
        Write-Host "    restart: $($stored.Count) stored, $($failed.Count) reported not stored, ingest $([int]($ended - $started).TotalMilliseconds) ms"
        $failed.Count | Should -BeGreaterThan 0 -Because 'a 2.5 s outage outlasts the retry'
        $failed.Count % 2 | Should -Be 0 -Because 'whole batches of 2 are lost, never half of one'
        # Every photo is stored or reported, and what was reported stored is there.
        foreach ($e in $embeddings) {
            ($stored -contains $e.Id) -or ($failed -contains $e.Path) | Should -BeTrue -Because "$($e.Path) must be stored or reported"
        }
        foreach ($r in $reported) { $stored | Should -Contain $r.Id }

        # The same command again completes the collection, without duplicates.
        $embeddings | Add-HouseVector -Backend PgVector -Collection $name -BatchSize 2 -ErrorVariable again -ErrorAction SilentlyContinue
        $again | Should -BeNullOrEmpty
        $all = Get-HouseVector -Backend PgVector -Collection $name
        $all.Count | Should -Be $embeddings.Count
        ($all.Id | Sort-Object -Unique).Count | Should -Be $embeddings.Count
        (Get-HouseCollection $name -Backend PgVector).Count | Should -Be $embeddings.Count
        Remove-HouseCollection $name -Backend PgVector -Confirm:$false
    }
}

Describe 'Milvus: connection, token and faults' {
    BeforeAll {
        # (A live Milvus without authentication ignores the credential.)
        $user, $secret = ($env:HOUSESIM_MILVUS_TOKEN ? $env:HOUSESIM_MILVUS_TOKEN : 'root:Milvus') -split ':', 2
        $uri = $env:HOUSESIM_MILVUS_URI
    }

    It 'Connect-HouseStore -Backend Milvus with a credential; nothing a user sees shows the password' {
        $r = Invoke-Isolated -Parameters @{ Uri = $uri; User = $user; Secret = $secret; Photos = $originals; Edits = $edits; Name = "${run}_milvusconnect" } -Script {
            param($Uri, $User, $Secret, $Photos, $Edits, $Name)
            $VerbosePreference = 'Continue'
            $credential = [pscredential]::new($User, (ConvertTo-SecureString $Secret -AsPlainText -Force))
            Connect-HouseStore -Backend Milvus -Uri $Uri -Credential $credential -Collection $Name -IndexType IvfFlat -PassThru
            Get-ChildItem $Photos -Filter '24*.jpg' | Add-HouseVector -PassThru | Select-Object -Last 1
            Find-SimilarHouse (Join-Path $Edits '241_frontal.jpeg.jpg') -Top 3
            Get-HouseCollection $Name
            Get-HouseVector -Id nothing-here
            Remove-HouseCollection $Name -Confirm:$false
            Disconnect-HouseStore
        }
        $r.Errors.Count | Should -Be 1 -Because ($r.Errors | Out-String)
        $r.Errors[0].FullyQualifiedErrorId | Should -BeLike 'RecordNotFound,*'
        $r.Output[0].Backend | Should -Be 'Milvus'
        $r.Output[0].IndexType | Should -Be 'IvfFlat'
        $r.Output[0].Location | Should -Be "$uri/default"
        ($r.Output | Where-Object { $_.GetType().Name -eq 'HouseMatch' })[0].Path | Should -BeLike '*241_frontal.jpg'
        ($r.Output | Where-Object { $_.GetType().Name -eq 'HouseCollection' }).Count | Should -Be 12
        $r.Text | Should -Not -Match ([regex]::Escape($secret))
        $r.Output | ConvertTo-Json -Depth 3 -WarningAction SilentlyContinue | Should -Not -Match ([regex]::Escape($secret))
    }

    It 'a wrong password is one terminating authentication error that never shows it' {
        $r = Invoke-Isolated -Parameters @{ Uri = $uri; Photos = $originals } -Script {
            param($Uri, $Photos)
            $wrong = [pscredential]::new('root', (ConvertTo-SecureString 'Wr0ng-Milvus-Pa55' -AsPlainText -Force))
            Get-ChildItem $Photos -Filter *.jpg | Add-HouseVector -Uri $Uri -Credential $wrong -Collection wrongpass
        }
        $r.Errors.Count | Should -Be 1 -Because ($r.Errors | Out-String)
        $r.Errors[0].CategoryInfo.Category | Should -Be 'AuthenticationError'
        $r.Errors[0].Exception.Message | Should -BeLike "Milvus at $uri/default*-Credential*"
        $r.Text | Should -Not -Match 'Wr0ng-Milvus-Pa55'
    }

    It 'an unreachable server is one terminating connection error naming it; a missing address names the variable' {
        $r = Invoke-Isolated -Parameters @{ Photos = $originals } -Script {
            param($Photos)
            Get-ChildItem $Photos -Filter *.jpg | Add-HouseVector -Uri http://127.0.0.1:1 -Collection nowhere
        }
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].CategoryInfo.Category | Should -Be 'ConnectionError'
        $r.Errors[0].Exception.Message | Should -BeLike '*Cannot reach Milvus at http://127.0.0.1:1/default*'
        $saved = $env:HOUSESIM_MILVUS_URI
        try {
            $env:HOUSESIM_MILVUS_URI = $null
            { Get-HouseCollection -Backend Milvus -ErrorAction Stop } | Should -Throw '*needs a server*-Uri*HOUSESIM_MILVUS_URI*'
            { Get-HouseCollection -Uri 'ftp://x' -ErrorAction Stop } | Should -Throw '*not an http:// or https://*'
        }
        finally {
            $env:HOUSESIM_MILVUS_URI = $saved
        }
    }
}

Describe 'Find-HouseDuplicate on <Backend>' -ForEach @(
    @{ Backend = 'Local' }
    @{ Backend = 'PgVector' }
    @{ Backend = 'AlloyDb' }
    @{ Backend = 'Milvus' }
) {
    BeforeAll {
        $store = Get-StoreParameters $Backend
        $name = "${run}_dupes_$($Backend.ToLowerInvariant())"
        Get-ChildItem $originals, $edits -File | Add-HouseVector @store -Collection $name
        $groups = Find-HouseDuplicate @store -Collection $name
        function Leaves($Group) { ($Group.Members | ForEach-Object { Split-Path -Leaf $_.Path } | Sort-Object) -join ',' }
    }

    AfterAll {
        Remove-HouseCollection $name @store -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'finds each photo with all its edited copies, the byte-identical pair and the re-encoded one, and nothing else' {
        $groups.Count | Should -Be 5
        $groups[0].GetType().Name | Should -Be 'HouseDuplicateGroup'
        ($groups | ForEach-Object Group) -join ',' | Should -Be '1,2,3,4,5'
        $exact = $groups | Where-Object Kind -eq 'Exact'
        Leaves $exact | Should -Be '292_frontal.jpg,293_frontal.jpg'
        $exact.MaxDistance | Should -BeLessThan 1e-3
        Leaves ($groups | Where-Object { $_.Keeper.Path -like '*_bathroom.jpg' }) | Should -Be '259_bathroom.jpg,296_bathroom.jpg'
        foreach ($photo in '241_frontal', '242_kitchen', '243_bedroom') {
            $group = @($groups | Where-Object { ($_.Members.Path | Split-Path -Leaf) -contains "$photo.jpg" })
            $group.Count | Should -Be 1 -Because "$photo is in one group"
            $expected = (@("$photo.jpg") + (Get-ChildItem $edits -Filter "$photo.*" | ForEach-Object Name) | Sort-Object) -join ','
            Leaves $group[0] | Should -Be $expected
            $group[0].Kind | Should -Be 'Near'
            $group[0].Pairs.Count | Should -Be (8 * 7 / 2)
            $group[0].MaxDistance | Should -Be ($group[0].Pairs.Distance | Measure-Object -Maximum).Maximum
        }
        # Every photo at most once; the other originals are in no group.
        $all = $groups.Members.Path
        ($all | Sort-Object -Unique).Count | Should -Be $all.Count
        $all.Count | Should -Be (2 + 2 + 3 * 8)
    }

    It 'suggests a keeper by the -KeepBy rules and says which rule decided' {
        $frontal = $groups | Where-Object { ($_.Members.Path | Split-Path -Leaf) -contains '241_frontal.jpg' }
        # Resolution ties among the full-size copies; the PNG is the largest file.
        $frontal.KeeperReason | Should -BeLike 'FileSize*'
        Split-Path -Leaf $frontal.Keeper.Path | Should -Be '241_frontal.format.png'
        $frontal.Keeper.IsKeeper | Should -BeTrue
        $frontal.Duplicates.Count | Should -Be 7
        $frontal.Duplicates.IsKeeper | Should -Not -Contain $true
        $frontal.Members[0].FileSize | Should -Be (Get-Item $frontal.Keeper.Path).Length
        $short = Find-HouseDuplicate @store -Collection $name -KeepBy ShortestPath |
            Where-Object { ($_.Members.Path | Split-Path -Leaf) -contains '241_frontal.jpg' }
        Split-Path -Leaf $short.Keeper.Path | Should -Be '241_frontal.jpg'
        $short.KeeperReason | Should -BeLike 'ShortestPath*'
    }

    It '-ExactOnly, -Threshold and -Since narrow the scan' {
        $exactOnly = @(Find-HouseDuplicate @store -Collection $name -ExactOnly)
        $exactOnly.Count | Should -Be 1
        $exactOnly[0].Kind | Should -Be 'Exact'
        $tight = Find-HouseDuplicate @store -Collection $name -Threshold 0.2
        $tight.Members.Count | Should -BeLessThan $groups.Members.Count
        foreach ($group in $tight) {
            # Each member is within 0.2 of another; the group may still hold farther pairs (a chain), which MaxDistance shows.
            foreach ($member in $group.Members) {
                ($group.Pairs | Where-Object { ($_.A -eq $member.Id -or $_.B -eq $member.Id) -and $_.Distance -le 0.2 }) | Should -Not -BeNullOrEmpty
            }
        }
        Find-HouseDuplicate @store -Collection $name -Since (Get-Date).AddHours(1) | Should -BeNullOrEmpty
        (Find-HouseDuplicate @store -Collection $name -Since (Get-Date).AddHours(-1)).Count | Should -Be 5
    }

    It 'checks piped photos against the collection without storing them' {
        $only = "${name}_originals"
        Get-ChildItem $originals -Filter *.jpg | Add-HouseVector @store -Collection $only
        try {
            $found = @(Get-ChildItem $edits -Filter '242_kitchen.*' | Find-HouseDuplicate @store -Collection $only)
            $found.Count | Should -Be 1
            Leaves $found[0] | Should -Be ((@('242_kitchen.jpg') + (Get-ChildItem $edits -Filter '242_kitchen.*').Name | Sort-Object) -join ',')
            ($found[0].Members | Where-Object IsStored).Count | Should -Be 1
            (Get-HouseCollection $only @store).Count | Should -Be 18
            # An embedding of a stored photo is that record, not a second copy of it.
            $self = @(Get-HouseEmbedding (Join-Path $originals '292_frontal.jpg') | Find-HouseDuplicate @store -Collection $only)
            Leaves $self[0] | Should -Be '292_frontal.jpg,293_frontal.jpg'
        }
        finally {
            Remove-HouseCollection $only @store -Confirm:$false
        }
    }

    It 'remembers "not a duplicate" by content: later scans, re-added photos and undo' {
        $kitchen = $groups | Where-Object { ($_.Members.Path | Split-Path -Leaf) -contains '242_kitchen.jpg' }
        $stored = @($kitchen | Add-HouseDuplicateExclusion -PassThru)
        $stored.Count | Should -Be (8 * 7 / 2)
        $stored[0].GetType().Name | Should -Be 'HouseDuplicateExclusion'
        $stored[0].Store.Collection | Should -Be $name
        $listed = @(Get-HouseDuplicateExclusion @store -Collection $name)
        $listed.Count | Should -Be 28
        $listed | ForEach-Object { [string]::CompareOrdinal($_.Sha256A, $_.Sha256B) | Should -BeLessOrEqual 0 }
        ($listed.PathA + $listed.PathB | Sort-Object -Unique) | Should -Be ($kitchen.Members.Path | Sort-Object)

        $again = @(Find-HouseDuplicate @store -Collection $name)
        $again.Count | Should -Be 4
        $again.Members.Path | Should -Not -Contain $kitchen.Keeper.Path
        $again[0].Scan.ExcludedPairs | Should -Be 28

        # One pair of a group: the exact pair is marked through its Pairs; the rest of the collection is unchanged.
        $exact = $groups | Where-Object Kind -eq 'Exact'
        $exact.Pairs | Add-HouseDuplicateExclusion
        (Get-HouseDuplicateExclusion @store -Collection $name).Count | Should -Be 29
        @(Find-HouseDuplicate @store -Collection $name).Count | Should -Be 3

        # Removed and added again, the same files keep their decision.
        $kitchen.Members | Remove-HouseVector -Confirm:$false
        $kitchen.Members.Path | Add-HouseVector @store -Collection $name
        @(Find-HouseDuplicate @store -Collection $name).Count | Should -Be 3

        # A copy with other bytes (same pixels) is a new question: it joins the kitchen photos, whose own pairs stay out.
        $copy = Join-Path $TestDrive "kitchen-copy-$Backend.jpg"
        [IO.File]::WriteAllBytes($copy, [IO.File]::ReadAllBytes($kitchen.Keeper.Path) + [byte[]](0, 1, 2))
        Add-HouseVector $copy @store -Collection $name
        try {
            $back = Find-HouseDuplicate @store -Collection $name | Where-Object { $_.Members.Path -contains $copy }
            $back.Count | Should -Be 9
            $back.Pairs.Count | Should -Be 8
            $back.Pairs | ForEach-Object { $copy -in $_.A, $_.B | Should -BeTrue }
        }
        finally {
            Remove-HouseVector $copy @store -Collection $name -Confirm:$false
        }

        # Undo: every decision listed and removed where it is kept; the groups come back.
        Get-HouseDuplicateExclusion @store -Collection $name | Select-Object -First 2 | Remove-HouseDuplicateExclusion -WhatIf
        (Get-HouseDuplicateExclusion @store -Collection $name).Count | Should -Be 29
        Get-HouseDuplicateExclusion @store -Collection $name | Remove-HouseDuplicateExclusion -Confirm:$false
        Get-HouseDuplicateExclusion @store -Collection $name | Should -BeNullOrEmpty
        { Remove-HouseDuplicateExclusion $exact.Keeper.Sha256 $exact.Keeper.Sha256 @store -Collection $name -ErrorAction Stop } |
            Should -Throw '*holds no decision*'
        @(Find-HouseDuplicate @store -Collection $name).Count | Should -Be 5
    }

    It 'refuses decisions it cannot keep: bad hashes, one member, a scan outside any collection, a missing collection' {
        { Add-HouseDuplicateExclusion 'abc' ('0' * 64) @store -Collection $name -ErrorAction Stop } | Should -Throw "*'abc' is not a SHA-256*"
        { $groups[0].Members[0] | Add-HouseDuplicateExclusion -ErrorAction Stop } | Should -Throw '*Only one photo*'
        { Find-HouseDuplicate -Path $originals | Select-Object -First 1 | Add-HouseDuplicateExclusion -ErrorAction Stop } |
            Should -Throw '*-Path, outside any collection*'
        { Add-HouseDuplicateExclusion ('a' * 64) ('b' * 64) @store -Collection "${name}_missing" -ErrorAction Stop } |
            Should -Throw '*does not exist*'
        { Get-HouseDuplicateExclusion @store -Collection "${name}_missing" -ErrorAction Stop } | Should -Throw '*does not exist*'
        Get-HouseDuplicateExclusion @store -Collection $name | Should -BeNullOrEmpty
    }

    It 'pipes into Remove-Item -WhatIf and Remove-HouseVector, removing every copy but the keeper where it is stored' {
        $files = @($groups | Select-Object -ExpandProperty Duplicates)
        $files | Remove-Item -WhatIf
        $files | ForEach-Object { Test-Path $_.Path | Should -BeTrue }
        $files | Remove-HouseVector -Confirm:$false
        (Get-HouseCollection $name @store).Count | Should -Be (39 - $files.Count)
        Find-HouseDuplicate @store -Collection $name | Should -BeNullOrEmpty
    }
}

Describe 'Records no store accepts, on <Backend>' -ForEach @(
    @{ Backend = 'Local' }
    @{ Backend = 'PgVector' }
    @{ Backend = 'Milvus' }
) {
    BeforeAll {
        $store = Get-StoreParameters $Backend
        $name = "${run}_invalid_$($Backend.ToLowerInvariant())"
    }

    AfterAll {
        Remove-HouseCollection $name @store -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'refuses a NaN, a too wide and a missing vector and bad Ids, one error each, and stores the photos around them' {
        $e = @(Get-ChildItem $originals -Filter *.jpg | Sort-Object Name | Select-Object -First 7 | Get-HouseEmbedding)
        $e[1].Vector[5] = [float]::NaN
        $e[2].Vector = [float[]]::new(200)
        $e[3].Vector = $null
        $e[4].Id = "bad`0id"
        $e[6].Id = "lone$([char]0xD800)surrogate"
        $errors = @()
        $e | Add-HouseVector @store -Collection $name -ErrorAction SilentlyContinue -ErrorVariable +errors
        $errors.Count | Should -Be 5
        $errors[4].Exception.Message | Should -BeLike '*surrogate*'
        $errors | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'InvalidRecord*' }
        $errors[0].Exception.Message | Should -BeLike "*$(Split-Path -Leaf $e[1].Path)*NaN*"
        $errors[1].Exception.Message | Should -BeLike '*has 200 values*'
        $errors[3].Exception.Message | Should -BeLike '*bad\u0000id*control character U+0000*'
        $errors[0].TargetObject | Should -Be $e[1].Path
        (Get-HouseVector @store -Collection $name).Id | Sort-Object | Should -Be (@($e[0].Id, $e[5].Id) | Sort-Object)
        (Find-SimilarHouse $e[5].Path @store -Collection $name -Top 5).Id | Should -Be $e[0].Id
    }
}

Describe 'Remove-HouseDuplicate on <Backend>' -ForEach @(
    @{ Backend = 'Local' }
    @{ Backend = 'PgVector' }
    @{ Backend = 'Milvus' }
) {
    BeforeAll {
        $store = Get-StoreParameters $Backend
        $name = "${run}_clean_$($Backend.ToLowerInvariant())"
    }

    BeforeEach {
        # Photos of our own to delete: two originals, a byte-identical copy and two edits of one of them.
        $folder = Join-Path $TestDrive "clean-$Backend"
        Remove-Item $folder -Recurse -Force -ErrorAction SilentlyContinue
        New-Item -ItemType Directory $folder | Out-Null
        Copy-Item (Join-Path $originals '241_frontal.jpg'), (Join-Path $originals '259_bathroom.jpg') $folder
        Copy-Item (Join-Path $originals '241_frontal.jpg') (Join-Path $folder 'copy_of_241.jpg')
        Copy-Item (Join-Path $edits '241_frontal.resize.jpg'), (Join-Path $edits '241_frontal.jpeg.jpg') $folder
        Get-ChildItem $folder -File | Add-HouseVector @store -Collection $name
    }

    AfterEach {
        Remove-HouseCollection $name @store -Confirm:$false -ErrorAction SilentlyContinue
    }

    It 'asks first (ConfirmImpact High); -WhatIf deletes nothing' {
        $attribute = (Get-Command Remove-HouseDuplicate).ImplementingType.GetCustomAttributes($true) |
            Where-Object { $_.GetType().Name -eq 'CmdletAttribute' }
        $attribute.ConfirmImpact | Should -Be 'High'
        Find-HouseDuplicate @store -Collection $name | Remove-HouseDuplicate -WhatIf
        (Get-ChildItem $folder -File).Count | Should -Be 5
        (Get-HouseCollection $name @store).Count | Should -Be 5
    }

    It 'deletes every copy but the keeper, file and vector, where the photos are stored' {
        $groups = @(Find-HouseDuplicate @store -Collection $name)
        $groups.Count | Should -Be 1
        $keeper = $groups[0].Keeper.Path
        $removed = @($groups | Remove-HouseDuplicate -Confirm:$false -PassThru)
        $removed.Count | Should -Be 3
        (Get-ChildItem $folder -File).FullName | Sort-Object | Should -Be (@($keeper, (Join-Path $folder '259_bathroom.jpg')) | Sort-Object)
        (Get-HouseVector @store -Collection $name).Path | Sort-Object | Should -Be (@($keeper, (Join-Path $folder '259_bathroom.jpg')) | Sort-Object)
        Find-HouseDuplicate @store -Collection $name | Should -BeNullOrEmpty
    }

    It 'keeps everything when the keeper changed or is gone, and a copy that changed since the scan' {
        $group = Find-HouseDuplicate @store -Collection $name
        $saved = [IO.File]::ReadAllBytes($group.Keeper.Path)
        Remove-Item $group.Keeper.Path
        { $group | Remove-HouseDuplicate -Confirm:$false -ErrorAction Stop } | Should -Throw '*keeper*missing or changed*'
        (Get-ChildItem $folder -File).Count | Should -Be 4
        [IO.File]::WriteAllBytes($group.Keeper.Path, $saved)

        $changed = $group.Duplicates[0].Path
        [IO.File]::WriteAllBytes($changed, [IO.File]::ReadAllBytes($changed) + [byte[]](1))
        $errors = @()
        $group | Remove-HouseDuplicate -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable +errors
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'CopyChanged*'
        (Get-ChildItem $folder -File).FullName | Sort-Object | Should -Be (@($group.Keeper.Path, $changed, (Join-Path $folder '259_bathroom.jpg')) | Sort-Object)
        (Get-HouseVector @store -Collection $name).Count | Should -Be 3
    }

    It '-KeepFiles removes only the vectors' {
        Find-HouseDuplicate @store -Collection $name | Remove-HouseDuplicate -KeepFiles -Confirm:$false
        (Get-ChildItem $folder -File).Count | Should -Be 5
        (Get-HouseCollection $name @store).Count | Should -Be 2
    }
}

Describe 'Find-HouseDuplicate without a collection, with progress' {
    It '-Path scans a folder alone (nothing stored) and reports progress with a percentage' {
        $saved = $env:XDG_DATA_HOME
        $env:XDG_DATA_HOME = Join-Path $saved 'alone'
        try {
            $r = Invoke-Isolated -Parameters @{ Samples = $samples } -Script {
                param($Samples)
                Find-HouseDuplicate -Path $Samples -Recurse
                Test-Path (Join-Path $env:XDG_DATA_HOME 'HouseSimilarity')
            }
        }
        finally {
            $env:XDG_DATA_HOME = $saved
        }
        $r.Errors | Should -BeNullOrEmpty
        ($r.Output | Where-Object { $_ -is [bool] }) | Should -BeFalse -Because 'no store file was made'
        @($r.Output | Where-Object { $_.GetType().Name -eq 'HouseDuplicateGroup' }).Count | Should -Be 5
        ($r.Progress | Where-Object PercentComplete -ge 0 | Where-Object PercentComplete -lt 100).Count | Should -BeGreaterThan 0
        ($r.Progress | Where-Object PercentComplete -eq 100).Count | Should -BeGreaterThan 0
    }
}
