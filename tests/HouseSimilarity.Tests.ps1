#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '6.0' }
# The module as a user sees it: built by ./build.ps1, imported into this fresh pwsh -NoProfile.

BeforeAll {
    $root = Split-Path $PSScriptRoot
    $modulePath = Join-Path $root 'out' 'HouseSimilarity' 'HouseSimilarity.psd1'
    Import-Module $modulePath -Force
    $samples = Join-Path $root 'out' 'samples'
    $originals = Join-Path $samples 'originals'
    $edits = Join-Path $samples 'edits'
    # The default store lives under XDG_DATA_HOME: point it at a folder of this run (not TestDrive, which
    # Pester empties after each Describe while the store must live through all of them).
    $env:XDG_DATA_HOME = Join-Path ([IO.Path]::GetTempPath()) "housesim-pester-$PID"
    Remove-Item $env:XDG_DATA_HOME -Recurse -Force -ErrorAction SilentlyContinue
    $pwshPath = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')

    function New-BadPhotos([string] $Directory) {
        New-Item -ItemType Directory -Force $Directory | Out-Null
        Set-Content -Path (Join-Path $Directory 'notes.jpg') -Value 'not a photo'
        $bytes = [IO.File]::ReadAllBytes((Join-Path $originals '241_kitchen.jpg'))
        [IO.File]::WriteAllBytes((Join-Path $Directory 'truncated.jpg'), $bytes[0..($bytes.Length / 2)])
        Copy-Item (Join-Path $originals '242_frontal.jpg') (Join-Path $Directory 'good.jpg')
    }
}

AfterAll {
    Remove-Item $env:XDG_DATA_HOME -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The module' {
    It 'exports exactly the documented cmdlets, each with approved verbs and an output type' {
        $commands = Get-Command -Module HouseSimilarity
        $commands.Name | Sort-Object | Should -Be @(
            'Add-HouseVector', 'Compare-HouseImage', 'Find-SimilarHouse', 'Get-HouseCollection',
            'Get-HouseEmbedding', 'Remove-HouseCollection', 'Remove-HouseVector')
        $approved = (Get-Verb).Verb
        foreach ($command in $commands) {
            $command.CommandType | Should -Be 'Cmdlet'
            $approved | Should -Contain $command.Verb
            if ($command.Name -ne 'Remove-HouseCollection') { $command.OutputType | Should -Not -BeNullOrEmpty }
        }
    }

    It 'loads its dependencies into a load context of its own' {
        $onnx = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Microsoft.ML.OnnxRuntime' }
        Get-HouseEmbedding (Join-Path $originals '241_frontal.jpg') | Out-Null
        $onnx = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Microsoft.ML.OnnxRuntime' }
        [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($onnx[0]).Name | Should -Be 'HouseSimilarity'
    }

    It 'ships only this platform''s native libraries' {
        $bin = Join-Path $root 'out' 'HouseSimilarity' 'bin'
        Get-ChildItem $bin -Recurse -Directory -Filter runtimes | Should -BeNullOrEmpty
        (Get-ChildItem $bin -Recurse -File | Where-Object Extension -in '.dll', '.so', '.dylib' |
            Where-Object Name -match 'onnxruntime' | Where-Object Name -notmatch '\.dll$|providers').Count | Should -Be 1
    }
}

Describe 'Get-HouseEmbedding' {
    It 'returns a 128-d unit vector with the file facts' {
        $e = Get-HouseEmbedding (Join-Path $originals '241_frontal.jpg')
        $e.GetType().FullName | Should -Be 'HouseSimilarity.HouseEmbedding'
        $e.Vector.Count | Should -Be 128
        [Math]::Sqrt(($e.Vector | ForEach-Object { $_ * $_ } | Measure-Object -Sum).Sum) | Should -BeGreaterThan 0.9999
        $e.Width | Should -BeGreaterThan 0
        $e.Sha256 | Should -Be (Get-FileHash (Join-Path $originals '241_frontal.jpg') -Algorithm SHA256).Hash.ToLower()
        $e.Id | Should -Be $e.Path
        $e.ModelId | Should -Match '^resnet18-'
    }

    It 'binds Get-ChildItem output, wildcards and literal paths with brackets' {
        (Get-ChildItem $originals -Filter '24*_frontal.jpg' | Get-HouseEmbedding).Count | Should -Be 3
        (Get-HouseEmbedding -Path (Join-Path $originals '24?_frontal.jpg')).Count | Should -Be 3
        $odd = Join-Path $TestDrive 'house[1].jpg'
        Copy-Item -LiteralPath (Join-Path $originals '241_frontal.jpg') -Destination $odd
        (Get-HouseEmbedding -LiteralPath $odd).Path | Should -Be $odd
        (Get-Item -LiteralPath $odd | Get-HouseEmbedding).Path | Should -Be $odd
    }

    It 'reports each bad file with its name and cause and goes on with the rest' {
        $bad = Join-Path $TestDrive 'bad-embed'
        New-BadPhotos $bad
        $result = Get-ChildItem $bad | Get-HouseEmbedding -ErrorVariable errs -ErrorAction SilentlyContinue
        $result.Count | Should -Be 1
        $errs.Count | Should -Be 2
        ($errs | Where-Object { $_.TargetObject -like '*notes.jpg' }).CategoryInfo.Category | Should -Be 'InvalidData'
        ($errs | Where-Object { $_.TargetObject -like '*notes.jpg' }).Exception.Message | Should -Match 'notes\.jpg.*not an image'
        ($errs | Where-Object { $_.TargetObject -like '*truncated.jpg' }).Exception.Message | Should -Match 'truncated'
        Get-HouseEmbedding (Join-Path $bad 'missing.jpg') -ErrorVariable missing -ErrorAction SilentlyContinue
        $missing[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }
}

Describe 'Add-HouseVector, Find-SimilarHouse and the embedded store' {
    BeforeAll {
        $added = Get-ChildItem $originals -Filter *.jpg | Add-HouseVector -PassThru
    }

    It 'stores every photo in the default collection under XDG_DATA_HOME' {
        $added.Count | Should -Be 18
        $added[0].GetType().FullName | Should -Be 'HouseSimilarity.HouseRecord'
        $collection = Get-HouseCollection default
        $collection.Count | Should -Be 18
        $collection.Backend | Should -Be 'Local'
        $collection.Location | Should -Be (Join-Path $env:XDG_DATA_HOME 'HouseSimilarity' 'houses.db')
        $collection.ModelId | Should -Be $added[0].ModelId
    }

    It 're-adding the same photos updates them instead of duplicating' {
        Get-ChildItem $originals -Filter *.jpg | Add-HouseVector
        (Get-HouseCollection default).Count | Should -Be 18
    }

    It 'finds the source of an edited copy first, as a duplicate' {
        foreach ($edit in Get-ChildItem $edits -Filter '241_frontal.*') {
            $found = Find-SimilarHouse $edit.FullName -Top 5
            $found.Count | Should -Be 5
            $found[0].GetType().FullName | Should -Be 'HouseSimilarity.HouseMatch'
            # ($found.Rank would be the array's own Rank property.)
            ($found | ForEach-Object Rank) -join ',' | Should -Be '1,2,3,4,5'
            Split-Path -Leaf $found[0].Path | Should -Be '241_frontal.jpg'
            $found[0].Query | Should -Be $edit.FullName
            $found[0].Distance | Should -BeLessThan $found[1].Distance
            [Math]::Abs($found[0].Similarity - (1 - [Math]::Pow($found[0].Distance, 2) / 2)) | Should -BeLessThan 1e-9
        }
        (Find-SimilarHouse (Join-Path $edits '241_frontal.resize.jpg') -Top 1).IsDuplicate | Should -BeTrue
    }

    It 'reports a byte-identical copy under another name at distance 0, not the photo itself' {
        $m = Find-SimilarHouse (Join-Path $originals '292_frontal.jpg') -Top 3
        $m[0].Path | Should -Be (Join-Path $originals '293_frontal.jpg')
        $m[0].Distance | Should -BeLessThan 1e-6
        $m[0].IsDuplicate | Should -BeTrue
        $m.Path | Should -Not -Contain (Join-Path $originals '292_frontal.jpg')
        (Find-SimilarHouse (Join-Path $originals '292_frontal.jpg') -Top 1 -IncludeSelf).Distance | Should -BeLessThan 1e-6
    }

    It 'takes a HouseEmbedding or a stored Id so nothing is embedded twice' {
        $e = Get-HouseEmbedding (Join-Path $edits '242_kitchen.jpeg.jpg')
        Split-Path -Leaf ($e | Find-SimilarHouse -Top 1).Path | Should -Be '242_kitchen.jpg'
        $byId = Find-SimilarHouse -Id (Join-Path $originals '259_bathroom.jpg') -Top 1
        Split-Path -Leaf $byId.Path | Should -Be '296_bathroom.jpg'
        $byId.IsDuplicate | Should -BeTrue
    }

    It 'ranks by L1 distance on request' {
        $query = Join-Path $edits '243_bedroom.mirror.jpg'
        $l1 = Find-SimilarHouse $query -Top 3 -Metric L1
        $l1[0].Metric | Should -Be 'L1'
        Split-Path -Leaf $l1[0].Path | Should -Be '243_bedroom.jpg'
        $compare = Compare-HouseImage $query $l1[0].Path
        [Math]::Abs($l1[0].Distance - $compare.L1Distance) | Should -BeLessThan 1e-3
        $l1[0].Distance | Should -BeLessOrEqual $l1[1].Distance
    }

    It 'shows matches as a readable table' {
        $text = Find-SimilarHouse (Join-Path $edits '241_frontal.mirror.jpg') -Top 2 | Out-String -Width 300
        $text | Should -Match 'Rank\s+Distance\s+Similarity\s+IsDuplicate\s+Path'
        $text | Should -Match '241_frontal\.jpg'
    }

    It 'stores good files and reports bad ones in the same pipeline' {
        $bad = Join-Path $TestDrive 'bad-add'
        New-BadPhotos $bad
        $stored = @(Get-ChildItem $bad | Add-HouseVector -Collection mixed -PassThru -ErrorVariable errs -ErrorAction SilentlyContinue)
        $stored.Count | Should -Be 1
        $errs.Count | Should -Be 2
        $errs.FullyQualifiedErrorId | Should -Contain 'ImageFormatNotSupported,HouseSimilarity.Commands.AddHouseVectorCommand'
        $errs.FullyQualifiedErrorId | Should -Contain 'ImageCorrupt,HouseSimilarity.Commands.AddHouseVectorCommand'
        (Get-HouseCollection mixed).Count | Should -Be 1
    }

    It 'Remove-HouseVector honours -WhatIf, then removes by path or by piped match' {
        $target = Join-Path $originals '250_frontal.jpg'
        Remove-HouseVector -Path $target -WhatIf
        (Get-HouseCollection default).Count | Should -Be 18
        Remove-HouseVector -Path $target -Confirm:$false
        (Get-HouseCollection default).Count | Should -Be 17
        Find-SimilarHouse (Join-Path $originals '260_kitchen.jpg') -Top 1 | Remove-HouseVector -Confirm:$false -PassThru |
            ForEach-Object { $_.GetType().Name } | Should -Be 'HouseRecord'
        (Get-HouseCollection default).Count | Should -Be 16
        Remove-HouseVector -Path $target -Confirm:$false -ErrorVariable gone -ErrorAction SilentlyContinue
        $gone[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'refuses a collection built with another model, naming both and the fix' {
        # A copy of the module with a differently weighted head (composed as the build does) has another model id.
        $copy = Join-Path $TestDrive 'OtherModel' 'HouseSimilarity'
        New-Item -ItemType Directory -Force (Split-Path $copy) | Out-Null
        Copy-Item (Join-Path $root 'out' 'HouseSimilarity') -Destination $copy -Recurse
        $parts = Join-Path $TestDrive 'parts'
        Copy-Item (Join-Path $root 'out' 'tool' 'models') -Destination $parts -Recurse
        $head = Join-Path $parts 'head.f32'
        $bytes = [IO.File]::ReadAllBytes($head); $bytes[64] = $bytes[64] -bxor 1; [IO.File]::WriteAllBytes($head, $bytes)
        dotnet (Join-Path $root 'out' 'tool' 'hstool.dll') compose --models $parts --out (Join-Path $copy 'bin' 'models' 'house.onnx') | Out-Null
        $query = Join-Path $originals '241_frontal.jpg'
        $out = & $pwshPath -NoProfile -Command "`$env:XDG_DATA_HOME = '$env:XDG_DATA_HOME'; Import-Module '$copy/HouseSimilarity.psd1'
            try { Find-SimilarHouse '$query' -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId; `$_.Exception.Message }
            try { Add-HouseVector '$query' -ErrorAction Stop } catch { `$_.FullyQualifiedErrorId }
            (Get-HouseCollection default).Count"
        $out[0] | Should -Be 'ModelMismatch,HouseSimilarity.Commands.FindSimilarHouseCommand'
        $out[1] | Should -Match "Collection 'default' was built with model .* re-add"
        $out[2] | Should -Be 'ModelMismatch,HouseSimilarity.Commands.AddHouseVectorCommand'
        $out[3] | Should -Be '16'
    }

    It 'a missing collection is one clear terminating error' {
        { Find-SimilarHouse (Join-Path $originals '241_frontal.jpg') -Collection nothing_here -ErrorAction Stop } |
            Should -Throw "*Collection 'nothing_here' does not exist*Add-HouseVector*"
        { Get-HouseCollection -Name 'x; DROP TABLE y' -ErrorAction Stop } | Should -Throw
        { Add-HouseVector (Join-Path $originals '241_frontal.jpg') -Collection 'x; DROP TABLE y' -ErrorAction Stop } |
            Should -Throw '*not a valid collection name*'
    }

    It 'Remove-HouseCollection asks first and removes only the named collection' {
        Remove-HouseCollection mixed -WhatIf
        (Get-HouseCollection mixed).Count | Should -Be 1
        Get-HouseCollection mixed | Remove-HouseCollection -Confirm:$false
        Get-HouseCollection mixed -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        (Get-HouseCollection default).Count | Should -Be 16
    }
}

Describe 'Compare-HouseImage' {
    It 'reports L2, L1, similarity and the duplicate verdict' {
        $c = Compare-HouseImage (Join-Path $originals '242_kitchen.jpg') (Join-Path $edits '242_kitchen.resize.jpg')
        $c.GetType().FullName | Should -Be 'HouseSimilarity.HouseComparison'
        $c.IsDuplicate | Should -BeTrue
        $c.Distance | Should -BeLessOrEqual $c.Threshold
        $c.L1Distance | Should -BeGreaterThan $c.Distance
        [Math]::Abs($c.Similarity - (1 - $c.Distance * $c.Distance / 2)) | Should -BeLessThan 1e-9

        $other = Compare-HouseImage (Join-Path $originals '242_kitchen.jpg') (Join-Path $originals '243_kitchen.jpg')
        $other.IsDuplicate | Should -BeFalse
        $other.Distance | Should -BeGreaterThan $c.Distance
    }

    It 'compares one reference with many piped photos and embeddings' {
        $reference = Get-HouseEmbedding (Join-Path $originals '241_frontal.jpg')
        $results = Get-ChildItem $edits -Filter '241_frontal.*' | Compare-HouseImage -Reference $reference
        $results.Count | Should -Be 7
        $results.ReferencePath | Select-Object -Unique | Should -Be $reference.Path
        Get-HouseEmbedding (Join-Path $originals '292_frontal.jpg') |
            Compare-HouseImage -Reference (Join-Path $originals '293_frontal.jpg') |
            ForEach-Object { $_.IsIdentical -and $_.Distance -lt 1e-6 } | Should -BeTrue
    }

    It 'an unreadable photo is a clear error' {
        { Compare-HouseImage (Join-Path $TestDrive 'nope.jpg') (Join-Path $originals '241_frontal.jpg') -ErrorAction Stop } |
            Should -Throw '*nope.jpg*does not exist*'
    }
}

Describe 'Stopping and crashes' {
    It 'Ctrl+C (Stop) ends an ingest promptly and keeps the store consistent' {
        $ps = [powershell]::Create()
        $null = $ps.AddScript("Import-Module '$modulePath'
            1..20 | ForEach-Object { Get-ChildItem '$originals' -Filter *.jpg } | Add-HouseVector -Collection stopped -BatchSize 4")
        $async = $ps.BeginInvoke()
        Start-Sleep -Seconds 2
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $ps.Stop()
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 3
        $async.IsCompleted | Should -BeTrue
        $ps.Dispose()
        $collection = Get-HouseCollection stopped
        $collection.Count | Should -BeGreaterThan 0
        $collection.Count | Should -BeLessOrEqual 18
        (Find-SimilarHouse (Join-Path $originals '241_frontal.jpg') -Collection stopped -Top 1 -IncludeSelf).Distance | Should -BeGreaterOrEqual 0
    }

    It 'a killed ingest loses nothing it reported as added' {
        $log = Join-Path $TestDrive 'reported.txt'
        $photos = Get-ChildItem $originals, $edits -File
        $script = "`$env:XDG_DATA_HOME = '$env:XDG_DATA_HOME'; Import-Module '$modulePath'
            Get-ChildItem '$originals', '$edits' -File | Add-HouseVector -Collection killed -BatchSize 2 -PassThru |
                ForEach-Object { Add-Content -LiteralPath '$log' -Value `$_.Id }"
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($script))
        $process = Start-Process $pwshPath -ArgumentList '-NoProfile', '-EncodedCommand', $encoded -PassThru
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not ((Test-Path $log) -and (Get-Content $log).Count -ge 6) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
        $process.Kill()
        $process.WaitForExit()
        $reported = Get-Content $log
        $reported.Count | Should -BeGreaterOrEqual 6
        $reported.Count | Should -BeLessThan $photos.Count
        $stored = (Get-HouseCollection killed).Count
        $stored | Should -BeGreaterOrEqual $reported.Count
        foreach ($id in $reported) {
            Find-SimilarHouse -Id $id -Collection killed -Top 1 -IncludeSelf | ForEach-Object Id | Should -Be $id
        }
    }
}
