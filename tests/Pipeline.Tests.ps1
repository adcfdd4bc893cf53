#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '6.0' }
# The module as a PowerShell user types it: pipelines that bind by property, wildcards, folders, views at 120 columns,
# progress and verbose streams, and one rule for errors. Real photos, real embeddings, the embedded store.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestEnvironment.ps1')
    Set-TestDataHome 'housesim-pipeline'
    Get-ChildItem $originals -File | Add-HouseVector -Collection demo
    $photo = Join-Path $originals '241_frontal.jpg'

    # Runs a script in a runspace of its own and returns what it wrote to each stream (progress cannot be redirected).
    function Invoke-Streams([string] $Script) {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("`$env:XDG_DATA_HOME = '$env:XDG_DATA_HOME'; Import-Module '$modulePath'; Set-Location '$root'`n$Script")
            $output = $ps.Invoke()
            [pscustomobject]@{ Output = $output; Progress = @($ps.Streams.Progress); Verbose = @($ps.Streams.Verbose); Errors = @($ps.Streams.Error) }
        }
        finally { $ps.Dispose() }
    }
}

AfterAll {
    Remove-Item $env:XDG_DATA_HOME -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Pipelines bind the way users type them' {
    It 'Select-Object Id into Find-SimilarHouse searches around each stored Id' {
        $ids = Get-HouseVector -Collection demo | Select-Object -First 2 Id
        $matches = $ids | Find-SimilarHouse -Collection demo -Top 1
        $matches.Count | Should -Be 2
        $matches.Query | Should -Be $ids.Id
        $matches | ForEach-Object { $_.Id | Should -Not -Be $_.Query }
        # A piped match is searched around where it came from: collection demo, not the default one (which does not exist).
        $next = Find-SimilarHouse $photo -Collection demo -Top 1 | Find-SimilarHouse -Top 2 -ErrorAction Stop
        $next.Query | Select-Object -Unique | Should -Be (Find-SimilarHouse $photo -Collection demo -Top 1).Id
        $next.Collection | Select-Object -Unique | Should -Be 'demo'
    }

    It 'a piped collection lists its own records (Get-HouseCollection demo | Get-HouseVector)' {
        Get-HouseEmbedding $photo | Add-HouseVector -Collection other
        $records = Get-HouseCollection demo | Get-HouseVector
        $records.Count | Should -Be 18
        $records.Collection | Select-Object -Unique | Should -Be 'demo'
        (Get-HouseCollection other | Get-HouseVector).Id | Should -Be $photo
    }

    It 'records that went through ConvertTo-Json | ConvertFrom-Json are stored again, not bound as a path' {
        $json = Get-HouseVector -Collection demo | Select-Object -First 3 | ConvertTo-Json -Depth 3
        $stored = $json | ConvertFrom-Json | Add-HouseVector -Collection fromjson -PassThru -ErrorAction Stop
        $stored.Count | Should -Be 3
        $again = Get-HouseVector -Collection fromjson
        $again.Count | Should -Be 3
        $original = Get-HouseVector -Collection demo -Id $again[0].Id
        [Math]::Abs($again[0].Vector[5] - $original.Vector[5]) | Should -BeLessThan 1e-6
        # CliXml as well (Export-Clixml in one session, Import-Clixml in another).
        $xml = Join-Path $TestDrive 'records.xml'
        Get-HouseVector -Collection demo | Select-Object -First 2 | Export-Clixml $xml
        (Import-Clixml $xml | Add-HouseVector -Collection fromxml -PassThru -ErrorAction Stop).Count | Should -Be 2
    }

    It '-Collection a, b is a clear parameter error in every command that takes one collection' {
        foreach ($command in { Get-HouseVector -Collection a, b }, { Find-SimilarHouse $photo -Collection a, b },
            { Add-HouseVector $photo -Collection a, b }, { Remove-HouseVector $photo -Collection a, b -WhatIf },
            { Connect-HouseStore -Collection a, b }, { Get-HouseStore -Collection a, b }) {
            $e = $null
            try { & $command } catch { $e = $_ }
            $e.FullyQualifiedErrorId | Should -BeLike 'ParameterArgumentTransformationError,*'
            $e.Exception.Message | Should -BeLike "*-Collection takes one collection name, not 2 ('a', 'b')*ForEach-Object*"
            $e.Exception.Message | Should -Not -BeLike '*Specified method is not supported*'
        }
        # The commands that list and remove collections take several names.
        (Get-HouseCollection demo, other).Name | Should -Be 'demo', 'other'
    }

    It 'Remove-HouseCollection takes the wildcards Get-HouseCollection takes, and asks for each collection' {
        foreach ($name in 'uxr_a', 'uxr_b', 'uxr_keep_me_not_x') { Get-HouseEmbedding $photo | Add-HouseVector -Collection $name }
        Remove-HouseCollection uxr_? -WhatIf
        (Get-HouseCollection uxr_*).Count | Should -Be 3
        $asked = Invoke-Streams 'Remove-HouseCollection uxr_? -Confirm:$false -Verbose'
        ($asked.Verbose.Message | Where-Object { $_ -like '*Remove house collection*' }).Count | Should -Be 2
        (Get-HouseCollection uxr_*).Name | Should -Be 'uxr_keep_me_not_x'
        Remove-HouseCollection nothing_like_this_* -Confirm:$false -ErrorAction Stop   # a pattern that matches nothing is no error
    }

    It 'Get-HouseVector expands wildcards in -Path as Remove-HouseVector does' {
        $pattern = Join-Path $originals '24*'
        $files = Get-ChildItem $pattern -File
        (Get-HouseVector $pattern -Collection demo).Path | Sort-Object | Should -Be ($files.FullName | Sort-Object)
        (Get-ChildItem $pattern -File | Get-HouseVector -Collection demo).Count | Should -Be $files.Count
        Remove-HouseVector $pattern -Collection demo -WhatIf
        (Get-HouseVector -Collection demo).Count | Should -Be 18
    }

    It 'Compare-HouseImage takes several difference photos, and wildcards' {
        $reference = Join-Path $originals '242_kitchen.jpg'
        $two = Compare-HouseImage $reference (Join-Path $edits '242_kitchen.resize.jpg'), (Join-Path $originals '243_kitchen.jpg')
        $two.IsDuplicate | Should -Be $true, $false
        (Compare-HouseImage $reference (Join-Path $edits '242_kitchen.*')).Count | Should -Be (Get-ChildItem (Join-Path $edits '242_kitchen.*')).Count
        { Compare-HouseImage $reference, $photo $photo } | Should -Throw '*takes one photo, not 2*'
    }
}

Describe 'Folders' {
    BeforeAll {
        $tree = Join-Path $TestDrive 'photos'
        New-Item -ItemType Directory (Join-Path $tree 'sub') -Force | Out-Null
        Copy-Item (Join-Path $originals '241_frontal.jpg'), (Join-Path $originals '242_kitchen.jpg') $tree
        Copy-Item (Join-Path $originals '243_bedroom.jpg') (Join-Path $tree 'sub')
        Set-Content (Join-Path $tree 'notes.txt') 'not a photo'
        # A folder whose name looks like a photo, with one photo in it.
        $odd = Join-Path $TestDrive 'x.jpg'
        New-Item -ItemType Directory $odd -Force | Out-Null
        Copy-Item (Join-Path $originals '259_bathroom.jpg') $odd
    }

    It 'Add-HouseVector adds a folder''s photos, and with -Recurse those of its subfolders' {
        Add-HouseVector $tree -Collection folder -ErrorAction Stop
        (Get-HouseVector -Collection folder).Count | Should -Be 2
        Add-HouseVector $tree -Recurse -Collection folder_deep -ErrorAction Stop
        (Get-HouseVector -Collection folder_deep).Path | Sort-Object |
            Should -Be (Get-ChildItem $tree -Recurse -Filter *.jpg).FullName
    }

    It 'a folder named x.jpg gets the same answer piped, by -Path and by -LiteralPath, in every cmdlet that takes photos' {
        foreach ($how in 'pipe', 'path', 'literal') {
            $name = "odd_$how"
            switch ($how) {
                'pipe' { Get-Item -LiteralPath $odd | Add-HouseVector -Collection $name -ErrorAction Stop }
                'path' { Add-HouseVector -Path $odd -Collection $name -ErrorAction Stop }
                'literal' { Add-HouseVector -LiteralPath $odd -Collection $name -ErrorAction Stop }
            }
            (Get-HouseVector -Collection $name).Path | Should -Be (Join-Path $odd '259_bathroom.jpg')
        }
        $answers = foreach ($how in 'pipe', 'path', 'literal') {
            foreach ($command in 'Find-SimilarHouse', 'Compare-HouseImage') {
                $errs = $null
                $out = switch ($how) {
                    'pipe' {
                        if ($command -eq 'Compare-HouseImage') { Get-Item -LiteralPath $odd | Compare-HouseImage $photo -ErrorVariable errs -ErrorAction SilentlyContinue }
                        else { Get-Item -LiteralPath $odd | & $command -Collection demo -ErrorVariable errs -ErrorAction SilentlyContinue }
                    }
                    'path' {
                        if ($command -eq 'Compare-HouseImage') { Compare-HouseImage $photo -Difference $odd -ErrorVariable errs -ErrorAction SilentlyContinue }
                        else { & $command -Path $odd -Collection demo -ErrorVariable errs -ErrorAction SilentlyContinue }
                    }
                    'literal' {
                        if ($command -eq 'Compare-HouseImage') { Compare-HouseImage $photo -Difference (Get-Item -LiteralPath $odd) -ErrorVariable errs -ErrorAction SilentlyContinue }
                        else { & $command -LiteralPath $odd -Collection demo -ErrorVariable errs -ErrorAction SilentlyContinue }
                    }
                }
                $out | Should -BeNullOrEmpty
                $errs.Count | Should -Be 1 -Because "$command by $how"
                '{0}: {1} {2}' -f $command, $errs[0].FullyQualifiedErrorId.Split(',')[0], $errs[0].Exception.Message
            }
        } 2>$null
        # Get-HouseEmbedding has no -Collection: asked on its own.
        $embedding = foreach ($how in 'pipe', 'path', 'literal') {
            $errs = $null
            switch ($how) {
                'pipe' { Get-Item -LiteralPath $odd | Get-HouseEmbedding -ErrorVariable errs -ErrorAction SilentlyContinue }
                'path' { Get-HouseEmbedding -Path $odd -ErrorVariable errs -ErrorAction SilentlyContinue }
                'literal' { Get-HouseEmbedding -LiteralPath $odd -ErrorVariable errs -ErrorAction SilentlyContinue }
            }
            $errs.Count | Should -Be 1
            '{0} {1}' -f $errs[0].FullyQualifiedErrorId, $errs[0].Exception.Message
        }
        $embedding | Select-Object -Unique | Should -HaveCount 1
        $embedding[0] | Should -BeLike "PathIsFolder,*'$odd' is a folder, not a photo*Add-HouseVector*"
        foreach ($command in 'Find-SimilarHouse', 'Compare-HouseImage') {
            $answers | Where-Object { $_ -like "${command}:*" } | Select-Object -Unique | Should -HaveCount 1
            $answers | Where-Object { $_ -like "${command}:*" } | Select-Object -First 1 | Should -BeLike "${command}: PathIsFolder '$odd' is a folder*"
        }
    }

    It 'Add-HouseVector -WhatIf embeds and stores nothing and creates no store' {
        $file = Join-Path $TestDrive 'whatif' 'x.db'
        Add-HouseVector $tree -Recurse -StorePath $file -WhatIf
        Test-Path (Split-Path $file) | Should -BeFalse
        (Get-Command Add-HouseVector).Parameters.Keys | Should -Contain 'Confirm'
    }

    It '-ErrorAction Stop on good, good, bad, good stores the two photos before the bad one and says so' {
        $bad = Join-Path $TestDrive 'bad'
        New-BadPhotos $bad
        $photos = (Join-Path $originals '241_frontal.jpg'), (Join-Path $originals '242_frontal.jpg'), (Join-Path $bad 'notes.jpg'), (Join-Path $originals '243_frontal.jpg')
        $e = $null
        try { $photos | Add-HouseVector -Collection stopped -ErrorAction Stop -WarningVariable warned -WarningAction SilentlyContinue } catch { $e = $_ }
        $e.Exception.Message | Should -BeLike '*notes.jpg*'
        (Get-HouseVector -Collection stopped).Path | Sort-Object | Should -Be ($photos[0..1] | Sort-Object)
        $warned[0].Message | Should -BeLike "*Stopped at '*notes.jpg'*2 photos stored in collection 'stopped'*notes.jpg' and the photos after it were not added*"
    }
}

Describe 'Views and objects' {
    It 'sorted matches of several queries stay one table, with a Query column' {
        $text = Find-SimilarHouse (Join-Path $edits '241_frontal.watermark.jpg'), (Join-Path $edits '242_kitchen.resize.jpg') -Top 3 -Collection demo |
            Sort-Object Distance | Out-String -Width 120
        ([regex]::Matches($text, '(?m)^Query\s+Rank\s+Distance\s+Metric\s+Similarity\s+IsDuplicate\s+Probability\s+Path')).Count | Should -Be 1
        $text | Should -Not -Match 'Query:'
        # The query column keeps the end of the file name, where edited copies differ.
        $text | Should -Match 'tal\.watermark\.jpg\s+1\s'
    }

    It 'at 120 columns no collection name or model id is cut, and records show Collection and AddedUtc' {
        $long = 'listings_of_the_north_coast_2026_spring'
        Get-HouseEmbedding $photo | Add-HouseVector -Collection $long
        $model = (Get-HouseCollection $long).ModelId
        $text = Get-HouseCollection | Out-String -Width 120
        $text | Should -Match "$long\s+Local\s+1\s+Exact\s+L2, L1\s+$([regex]::Escape($model))"
        # Records: where and when, not the model (their collection's); names of up to 24 characters show whole.
        $medium = 'north_coast_spring_2026'
        Get-HouseEmbedding $photo | Add-HouseVector -Collection $medium
        $records = Get-HouseVector -Collection $medium | Out-String -Width 120
        $records | Should -Match 'AddedUtc\s+Collection\s+Width\s+Height\s+Sha256\s+Path'
        $records | Should -Not -Match 'ModelId|resnet18'
        $records | Should -Match "\d{4}-\d\d-\d\d \d\d:\d\d:\d\d $medium\s+1024\s+683 [0-9a-f]{12} .*241_frontal\.jpg"
    }

    It 'Find-SimilarHouse and Compare-HouseImage show paths the same way: relative to the current folder' {
        Push-Location $root
        try {
            $find = Find-SimilarHouse out/samples/edits/242_kitchen.resize.jpg -Top 1 -Collection demo | Out-String -Width 120
            $compare = Compare-HouseImage out/samples/originals/242_kitchen.jpg out/samples/edits/242_kitchen.resize.jpg | Out-String -Width 120
        }
        finally { Pop-Location }
        $find | Should -Match ([regex]::Escape('out/samples/originals/242_kitchen.jpg'))
        $compare | Should -Match ([regex]::Escape('out/samples/originals/242_kitchen.jpg'))
        $compare | Should -Match ([regex]::Escape('out/samples/edits/242_kitchen.resize.jpg'))
        $find + $compare | Should -Not -Match ([regex]::Escape($root))
    }

    It '-Metric L1: Distance is the L1 distance and Metric says so; Similarity and IsDuplicate follow L2, shown as L2Distance' {
        $query = Join-Path $edits '241_frontal.crop.jpg'
        $l1 = Find-SimilarHouse $query -Top 3 -Collection demo -Metric L1
        foreach ($match in $l1) {
            $pair = Compare-HouseImage $query $match.Path
            $match.Metric | Should -Be 'L1'
            $match.Distance | Should -BeGreaterThan ($match.L2Distance * 2)
            [Math]::Abs($match.Distance - $pair.L1Distance) | Should -BeLessThan 1e-3
            [Math]::Abs($match.L2Distance - $pair.Distance) | Should -BeLessThan 1e-4
            $match.IsDuplicate | Should -Be $pair.IsDuplicate
            [Math]::Abs($match.Similarity - $pair.Similarity) | Should -BeLessThan 1e-4
        }
        $l1 | Out-String -Width 120 | Should -Match '\s1\s+\d\.\d{4} L1\s'
        $l1[0] | ConvertTo-Json -Depth 1 -WarningAction SilentlyContinue | Should -Match '"Metric": "L1"'
    }

    It 'ConvertTo-Json and Export-Csv write kinds, metrics and index types as their names, not numbers' {
        $group = Find-HouseDuplicate -Collection demo | Select-Object -First 1
        $group | ConvertTo-Json -Depth 1 -WarningAction SilentlyContinue | Should -Match '"Kind": "Exact"'
        Get-HouseCollection demo | ConvertTo-Json -Depth 1 -WarningAction SilentlyContinue | Should -Match '"IndexType": "Exact",\s+"Metric": "L2, L1"'
        Connect-HouseStore -Backend Local -Collection demo
        try { Get-HouseStore | ConvertTo-Json | Should -Match '"Source": "session \(Connect-HouseStore\)"' } finally { Disconnect-HouseStore }
        $csv = Join-Path $TestDrive 'matches.csv'
        Find-SimilarHouse $photo -Top 2 -Collection demo -Metric L1 | Export-Csv $csv
        (Import-Csv $csv).Metric | Should -Be 'L1', 'L1'
    }

    It 'Get-HouseVector -NoVector leaves the vector out of CSV and JSON' {
        $csv = Join-Path $TestDrive 'records.csv'
        Get-HouseVector -Collection demo -NoVector | Export-Csv $csv
        $text = Get-Content $csv -Raw
        $text | Should -Not -Match 'System\.Single'
        (Import-Csv $csv)[0].Vector | Should -BeNullOrEmpty
        # A record without its vector is refused by name where a vector is needed, not a crash.
        $found = Get-HouseVector -Collection demo -Id $photo -NoVector | Find-SimilarHouse -Collection demo -ErrorVariable novector -ErrorAction SilentlyContinue
        $found | Should -BeNullOrEmpty
        $novector[0].FullyQualifiedErrorId | Should -BeLike 'NoVector,*'
        (Import-Csv $csv).Count | Should -Be 18
        (Import-Csv $csv)[0].Sha256 | Should -Match '^[0-9a-f]{64}$'
        (Get-HouseVector -Collection demo -Id $photo -NoVector | ConvertTo-Json -Depth 1 -WarningAction SilentlyContinue).Length |
            Should -BeLessThan 1000
    }

    It 'HouseCollection shows its index and metric; Get-HouseStore shows the session default and where it comes from' {
        $collection = Get-HouseCollection demo
        $collection.IndexType | Should -Be 'Exact'
        $collection.Metric | Should -Be 'L2, L1'
        (Get-HouseStore).Source | Should -Be 'default'
        Connect-HouseStore -Collection other
        try {
            $store = Get-HouseStore
            $store.GetType().Name | Should -Be 'HouseStoreConnection'
            $store.Collection | Should -Be 'other'
            $store.Source | Should -Be 'session (Connect-HouseStore)'
            $store.Location | Should -Be (Join-Path $env:XDG_DATA_HOME 'HouseSimilarity' 'houses.db')
            # Listing collections names the store, not a collection that is not the session's.
            $verbose = Get-HouseCollection -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
            $verbose.Message | Should -BeLike "Local store $($store.Location) (backend from session (Connect-HouseStore))."
            $verbose.Message | Should -Not -Match "collection 'default'"
        }
        finally { Disconnect-HouseStore }
        (Get-HouseStore -StorePath (Join-Path $TestDrive 'y.db')).Source | Should -BeLike 'parameter*'
    }

    It 'every type the cmdlets emit is in the HouseSimilarity namespace, and every view names such a type' {
        $types = (Get-Command -Module HouseSimilarity).OutputType.Type | Where-Object { $_.Assembly.GetName().Name -like 'HouseSimilarity*' } |
            Sort-Object FullName -Unique
        $types.Count | Should -BeGreaterThan 8
        $types | ForEach-Object { $_.Namespace | Should -Be 'HouseSimilarity' -Because $_.FullName }
        [xml] $format = Get-Content (Join-Path (Split-Path $modulePath) 'HouseSimilarity.Format.ps1xml') -Raw
        $viewed = $format.Configuration.ViewDefinitions.View.ViewSelectedBy.TypeName
        $viewed | ForEach-Object { $_ | Should -BeIn $types.FullName }
    }

    It 'messages count in the right plural' {
        $one = Get-HouseEmbedding $photo | Add-HouseVector -Collection plural -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | Select-Object -Last 1
        $one.Message | Should -BeLike "Stored 1 photo in collection 'plural'*"
        $two = Get-HouseEmbedding (Join-Path $originals '24?_frontal.jpg') | Select-Object -First 2 | Add-HouseVector -Collection plural -Verbose 4>&1 |
            Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | Select-Object -Last 1
        $two.Message | Should -BeLike "Stored 2 photos in collection 'plural'*"
    }
}

Describe 'Progress and verbose streams' {
    It 'shows a percentage when the number of photos is known, in every cmdlet that reads many' {
        $known = Invoke-Streams @'
Add-HouseVector (Get-ChildItem out/samples/originals -File).FullName -Collection progress
Get-HouseEmbedding (Get-ChildItem out/samples/originals -File).FullName | Out-Null
Find-SimilarHouse (Get-ChildItem out/samples/edits -File).FullName -Collection progress -Top 1 | Out-Null
Compare-HouseImage out/samples/originals/241_frontal.jpg (Get-ChildItem out/samples/edits -File).FullName | Out-Null
'@
        $known.Errors | Should -BeNullOrEmpty
        foreach ($activity in "Adding photos to collection 'progress'", 'Embedding photos', "Searching for similar photos", "Comparing photos with '241_frontal.jpg'") {
            $records = $known.Progress | Where-Object Activity -eq $activity | Where-Object RecordType -eq 'Processing'
            $records | Should -Not -BeNullOrEmpty -Because $activity
            ($records | Where-Object PercentComplete -gt 0) | Should -Not -BeNullOrEmpty -Because $activity
        }
        $adding = $known.Progress | Where-Object Activity -eq "Adding photos to collection 'progress'" | Where-Object RecordType -eq 'Processing'
        $adding[-1].PercentComplete | Should -Be 100
        $adding[-1].StatusDescription | Should -Match '^\d+ of 18 stored; \d+ embedded, waiting to be stored with their batch; 0 unreadable or refused; 0 not stored'

        # Piped: no end to count to, so counts and a rate, and no percentage.
        $piped = Invoke-Streams 'Get-ChildItem out/samples/originals -File | Add-HouseVector -Collection progress_piped'
        $records = $piped.Progress | Where-Object RecordType -eq 'Processing'
        $records | Should -Not -BeNullOrEmpty
        $records.PercentComplete | Select-Object -Unique | Should -Be -1
        $records[-1].StatusDescription | Should -Match 'photos/s'
    }

    It '-Verbose on Get-HouseEmbedding and Compare-HouseImage says what was done' {
        $r = Invoke-Streams @'
Get-HouseEmbedding out/samples/originals/241_frontal.jpg, out/samples/originals/242_frontal.jpg -Verbose | Out-Null
Compare-HouseImage out/samples/originals/242_kitchen.jpg out/samples/edits/242_kitchen.resize.jpg -Verbose | Out-Null
'@
        $text = $r.Verbose.Message -join "`n"
        $text | Should -Match 'Model resnet18-\S+ \(128-d vectors\)'
        $text | Should -Match 'Embedded 2 photos in [\d.]+ s; 0 could not be read\.'
        $text | Should -Match "Reference '.*242_kitchen\.jpg' \(\d+x\d+, model resnet18-\S+\); duplicates at L2 <= 0\.\d+"
        $text | Should -Match "'.*242_kitchen\.resize\.jpg': L2 0\.\d{4}, a duplicate\."
        $text | Should -Match 'Compared 1 photo with .*: 1 duplicate; 0 could not be read\.'
    }
}

Describe 'Errors follow one rule' {
    It 'a missing collection is one non-terminating CollectionNotFound error in every cmdlet, and the script goes on' {
        $two = (Join-Path $originals '241_frontal.jpg'), (Join-Path $originals '242_frontal.jpg')
        foreach ($command in { Get-HouseVector -Collection missing }, { Get-HouseVector $two -Collection missing },
            { Find-SimilarHouse $two -Collection missing }, { Get-HouseCollection missing, demo },
            { Remove-HouseVector $two -Collection missing -Confirm:$false }, { Remove-HouseCollection missing -Confirm:$false },
            { Get-HouseDuplicateExclusion -Collection missing }) {
            $all = & { $ErrorActionPreference = 'Continue'; & $command } 2>&1
            $errs = @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })
            $out = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
            $errs.Count | Should -Be 1 -Because "$command"
            $errs[0].FullyQualifiedErrorId | Should -BeLike 'CollectionNotFound,*'
            $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $errs[0].Exception.Message | Should -BeLike "Collection 'missing' does not exist in Local *; add photos to it with Add-HouseVector."
            @($out | Where-Object { $_.Name -ne 'demo' }) | Should -BeNullOrEmpty
        }
        { Find-SimilarHouse $photo -Collection missing -ErrorAction Stop } | Should -Throw "*Collection 'missing' does not exist*"
    }

    It 'a bad -Reference is one terminating error that keeps its cause' {
        $missing = Join-Path $TestDrive 'nope.jpg'
        $e = $null
        try { Compare-HouseImage $missing $photo -ErrorVariable errs } catch { $e = $_ }
        $errs.Count | Should -Be 1
        $e.FullyQualifiedErrorId | Should -BeLike 'ReferenceUnusable,*'
        $e.Exception.Message | Should -BeLike "*reference photo '$missing' cannot be used: *does not exist*"
        $e.Exception.InnerException | Should -Not -BeNullOrEmpty
        $bad = Join-Path $TestDrive 'bad-reference'
        New-BadPhotos $bad
        $e = $null
        try { Compare-HouseImage (Join-Path $bad 'notes.jpg') $photo } catch { $e = $_ }
        $e.Exception.InnerException.GetType().Name | Should -Be 'HouseImageException'
        $e.CategoryInfo.Category | Should -Be 'InvalidData'
        $e.Exception.Message | Should -BeLike '*notes.jpg*not an image*'
    }

    It 'read-only commands never create a store: a store file that does not exist is a clear error' {
        $typo = Join-Path $TestDrive 'typo'
        $file = Join-Path $typo 'x.db'
        foreach ($command in { Get-HouseCollection -StorePath $file }, { Get-HouseVector -StorePath $file },
            { Find-SimilarHouse $photo -StorePath $file }, { Remove-HouseCollection x -StorePath $file -Confirm:$false },
            { Remove-HouseVector $photo -StorePath $file -Confirm:$false }, { Find-HouseDuplicate -StorePath $file }) {
            $e = $null
            try { & $command -ErrorAction Stop } catch { $e = $_ }
            $e.FullyQualifiedErrorId | Should -BeLike 'StoreNotFound,*' -Because "$command"
            $e.Exception.Message | Should -BeLike "There is no store file '$file': check -StorePath*"
        }
        Test-Path $typo | Should -BeFalse
        Get-HouseEmbedding $photo | Add-HouseVector -StorePath $file
        (Get-HouseCollection -StorePath $file).Count | Should -Be 1
    }
}
