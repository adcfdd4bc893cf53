#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '6.0' }
# The module as a user sees it: built by ./build.ps1, imported into this fresh pwsh -NoProfile.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestEnvironment.ps1')
    Set-TestDataHome 'housesim-pester'
}

AfterAll {
    Remove-Item $env:XDG_DATA_HOME -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The module' {
    It 'exports exactly the documented cmdlets, each with approved verbs and an output type' {
        $commands = Get-Command -Module HouseSimilarity
        $commands.Name | Sort-Object | Should -Be @(
            'Add-HouseDuplicateExclusion', 'Add-HouseVector', 'Compare-HouseImage', 'Connect-HouseStore', 'Disconnect-HouseStore',
            'Export-HouseDuplicateReport', 'Find-HouseDuplicate', 'Find-SimilarHouse', 'Get-HouseCollection',
            'Get-HouseDuplicateExclusion', 'Get-HouseEmbedding', 'Get-HouseStore', 'Get-HouseVector', 'Remove-HouseCollection', 'Remove-HouseDuplicate',
            'Remove-HouseDuplicateExclusion', 'Remove-HouseVector')
        $approved = (Get-Verb).Verb
        foreach ($command in $commands) {
            $command.CommandType | Should -Be 'Cmdlet'
            $approved | Should -Contain $command.Verb
            if ($command.Name -notin 'Remove-HouseCollection', 'Remove-HouseDuplicateExclusion', 'Disconnect-HouseStore') { $command.OutputType | Should -Not -BeNullOrEmpty }
        }
    }

    It 'loads its dependencies into a load context of its own' {
        $onnx = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Microsoft.ML.OnnxRuntime' }
        Get-HouseEmbedding (Join-Path $originals '241_frontal.jpg') | Out-Null
        $onnx = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Microsoft.ML.OnnxRuntime' }
        [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($onnx[0]).Name | Should -Be 'HouseSimilarity'
        # The photo decoder and its native library, from the module's own bin folder.
        $skia = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'SkiaSharp' }
        [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext($skia[0]).Name | Should -Be 'HouseSimilarity'
        if ($IsLinux) {
            Get-Content -Raw "/proc/$PID/maps" | Should -Match ([regex]::Escape((Join-Path $root 'out' 'HouseSimilarity' 'bin' 'libSkiaSharp.so')))
        }
    }

    It 'ships only this platform''s native libraries' {
        $bin = Join-Path $root 'out' 'HouseSimilarity' 'bin'
        Get-ChildItem $bin -Recurse -Directory -Filter runtimes | Should -BeNullOrEmpty
        (Get-ChildItem $bin -Recurse -File | Where-Object Extension -in '.dll', '.so', '.dylib' |
            Where-Object Name -match 'onnxruntime' | Where-Object Name -notmatch '\.dll$|providers').Count | Should -Be 1
        (Get-ChildItem $bin -Recurse -File | Where-Object Name -match '^libSkiaSharp\.(so|dylib|dll)$').Count | Should -Be 1
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

# The scenarios every backend shares (add, re-add, find, remove, model mismatch, bad files...) are in
# HouseStore.Tests.ps1; what is particular to the embedded default store stays here.
Describe 'The embedded default store' {
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

    It '-StorePath chooses another store file' {
        $file = Join-Path $TestDrive 'elsewhere.db'
        Get-HouseEmbedding (Join-Path $originals '241_frontal.jpg') | Add-HouseVector -StorePath $file
        $collection = Get-HouseCollection -StorePath $file
        $collection.Location | Should -Be $file
        $collection.Count | Should -Be 1
        (Get-HouseCollection default).Count | Should -Be 18
    }

    It 'shows matches as a readable table' {
        $text = Find-SimilarHouse (Join-Path $edits '241_frontal.mirror.jpg') -Top 2 | Out-String -Width 300
        $text | Should -Match 'Query\s+Rank\s+Distance\s+Metric\s+Similarity\s+IsDuplicate\s+Probability\s+Path'
        $text | Should -Match '241_frontal\.jpg'
    }

    It 'filters matches by their duplicate probability (-MinProbability)' {
        $query = Join-Path $edits '241_frontal.watermark.jpg'
        $all = Find-SimilarHouse $query -Top 10
        $sure = @(Find-SimilarHouse $query -Top 10 -MinProbability 0.99)
        $sure.Count | Should -BeGreaterThan 0
        $sure.Count | Should -BeLessThan $all.Count
        $sure.DuplicateProbability | ForEach-Object { $_ | Should -BeGreaterOrEqual 0.99 }
        ($all | Where-Object DuplicateProbability -ge 0.99).Id -join ',' | Should -Be ($sure.Id -join ',')
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
        # The calibrated probability: a resized copy is almost surely the same photo, another kitchen almost surely not.
        $c.DuplicateProbability | Should -BeGreaterThan 0.99
        $other.DuplicateProbability | Should -BeLessThan 0.5
        (Compare-HouseImage (Join-Path $originals '242_kitchen.jpg') (Join-Path $originals '241_frontal.jpg')).DuplicateProbability |
            Should -BeLessThan 0.01
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
        $started = [DateTime]::UtcNow
        $stop = Stop-Ingest '-Collection stopped -BatchSize 4' { [DateTime]::UtcNow -gt $started.AddSeconds(2) }
        $stop.StopSeconds | Should -BeLessThan 3
        $stop.Completed | Should -BeTrue
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

Describe 'A damaged or tampered model: <Case>' -ForEach @(
    # ONNX Runtime would load this one and embed every photo as NaN.
    @{ Case = '64 KB of the weights overwritten'; Offset = 0.5; Length = 65536; Fill = 0xFF; Expect = '*is not the one this module was built with*./build.ps1*' }
    # This one loads and drifts (0.26 for the same photo) under the same model id.
    @{ Case = '1 MB of the weights zeroed'; Offset = 0.3; Length = 1MB; Fill = 0; Expect = '*is not the one this module was built with*./build.ps1*' }
    @{ Case = 'the file cut in half'; Offset = 0.5; Length = -1; Fill = 0; Expect = '*is not the one this module was built with*./build.ps1*' }
    # Built with its hash, as a foreign or hand-made model would be: the metadata check refuses it.
    @{ Case = 'a duplicate threshold of 9.999 in its metadata'; Threshold = '9.999'; Expect = '*implausible metadata (duplicate threshold 9.999*' }
) {
    It 'stops each command with one error naming the file and the cause, and stores nothing' {
        $copy = Join-Path $TestDrive 'module'
        Copy-Item (Split-Path $modulePath) $copy -Recurse
        $model = Join-Path $copy 'bin' 'models' 'house.onnx'
        if ($Threshold) {
            $parts = Join-Path $TestDrive 'parts'
            Copy-Item (Join-Path $root 'out' 'tool' 'models') -Destination $parts -Recurse
            $headFile = Join-Path $parts 'head.json'
            $head = Get-Content $headFile -Raw | ConvertFrom-Json
            $head.duplicateThreshold = [double]$Threshold
            $head | ConvertTo-Json | Set-Content $headFile
            dotnet (Join-Path $root 'out' 'tool' 'hstool.dll') compose --models $parts --out $model | Out-Null
        }
        else {
            $bytes = [IO.File]::ReadAllBytes($model)
            $at = [int]($bytes.Length * $Offset)
            if ($Length -lt 0) { $bytes = $bytes[0..($at - 1)] } else { [Array]::Fill($bytes, [byte]$Fill, $at, $Length) }
            [IO.File]::WriteAllBytes($model, $bytes)
        }
        $store = Join-Path $TestDrive 'tampered.db'
        $out = & $pwshPath -NoProfile -Command "
            Import-Module '$copy/HouseSimilarity.psd1'
            foreach (`$command in { Get-ChildItem '$originals' -Filter *.jpg | Add-HouseVector -StorePath '$store' },
                                 { Find-SimilarHouse '$originals/241_kitchen.jpg' -StorePath '$store' },
                                 { Compare-HouseImage '$originals/241_kitchen.jpg' '$originals/242_kitchen.jpg' },
                                 { Get-HouseEmbedding '$originals/241_kitchen.jpg' }) {
                `$errors = @()
                try { & `$command -ErrorVariable +errors -ErrorAction SilentlyContinue | Out-Null }
                catch { `$errors += `$_ }
                '{0}|{1}|{2}' -f `$errors.Count, `$errors[0].FullyQualifiedErrorId, `$errors[0].Exception.Message
            }
            'stored=' + (Test-Path '$store')
        "
        $lines = @($out | Where-Object { $_ -like '*|*' })
        $lines.Count | Should -Be 4
        foreach ($line in $lines) {
            $count, $id, $message = $line -split '\|', 3
            $count | Should -Be 1
            $id | Should -BeLike 'ModelInvalid*'
            $message | Should -BeLike "*'$model'*"
            $message | Should -BeLike $Expect
        }
        $out | Should -Contain 'stored=False'
    }
}

Describe 'Decoding memory' {
    BeforeAll {
        # Valid PNGs of 10950 x 10950 (120 MP, within the pixel limit) that compress to a few hundred KB: plain and
        # Adam7-interlaced (the decoder holds an interlaced image whole, so only the budget bounds it).
        Add-Type -TypeDefinition @'
using System.IO;
using System.IO.Compression;
public static class TestPng
{
    static readonly uint[] Table = MakeTable();
    static uint[] MakeTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++) { uint c = n; for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1; t[n] = c; }
        return t;
    }
    static void Chunk(Stream s, string type, byte[] data)
    {
        var body = new byte[4 + data.Length];
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(body, 0);
        data.CopyTo(body, 4);
        uint crc = 0xFFFFFFFF;
        foreach (byte b in body) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        crc = ~crc;
        s.Write(new[] { (byte)(data.Length >> 24), (byte)(data.Length >> 16), (byte)(data.Length >> 8), (byte)data.Length }, 0, 4);
        s.Write(body, 0, body.Length);
        s.Write(new[] { (byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc }, 0, 4);
    }
    public static void Write(string path, int width, int height, bool interlaced)
    {
        var pixels = new MemoryStream();
        using (var z = new ZLibStream(pixels, CompressionLevel.Optimal, leaveOpen: true))
        {
            int[][] passes = interlaced
                ? new[] { new[] { 0, 0, 8, 8 }, new[] { 4, 0, 8, 8 }, new[] { 0, 4, 4, 8 }, new[] { 2, 0, 4, 4 }, new[] { 0, 2, 2, 4 }, new[] { 1, 0, 2, 2 }, new[] { 0, 1, 1, 2 } }
                : new[] { new[] { 0, 0, 1, 1 } };
            foreach (var p in passes)
            {
                int w = (width - p[0] + p[2] - 1) / p[2], h = (height - p[1] + p[3] - 1) / p[3];
                if (w <= 0 || h <= 0) continue;
                var row = new byte[1 + 3 * w];
                for (int x = 0; x < w; x++) { row[1 + 3 * x] = 180; row[2 + 3 * x] = 140; row[3 + 3 * x] = 90; }
                for (int y = 0; y < h; y++) z.Write(row, 0, row.Length);
            }
        }
        using var file = File.Create(path);
        file.Write(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }, 0, 8);
        var header = new byte[13];
        header[0] = (byte)(width >> 24); header[1] = (byte)(width >> 16); header[2] = (byte)(width >> 8); header[3] = (byte)width;
        header[4] = (byte)(height >> 24); header[5] = (byte)(height >> 16); header[6] = (byte)(height >> 8); header[7] = (byte)height;
        header[8] = 8; header[9] = 2; header[12] = (byte)(interlaced ? 1 : 0);
        Chunk(file, "IHDR", header);
        Chunk(file, "IDAT", pixels.ToArray());
        Chunk(file, "IEND", new byte[0]);
    }
}
'@
        $large = Join-Path $TestDrive 'large-png'
        New-Item -ItemType Directory $large | Out-Null
        [TestPng]::Write((Join-Path $large 'interlaced-0.png'), 10950, 10950, $true)
        [TestPng]::Write((Join-Path $large 'plain-0.png'), 10950, 10950, $false)
        1..3 | ForEach-Object { Copy-Item (Join-Path $large 'interlaced-0.png') (Join-Path $large "interlaced-$_.png") }
        Copy-Item (Join-Path $large 'plain-0.png') (Join-Path $large 'plain-1.png')
    }

    It 'ingests many large in-limit PNGs at once on 8 workers with memory bounded by the decode budget, not per file' {
        (Get-Item (Join-Path $large 'interlaced-0.png')).Length | Should -BeLessThan 2MB
        # 8 workers, as on an 8-core machine: without the budget the four interlaced PNGs alone would hold 4 x 480 MB.
        $env:DOTNET_PROCESSOR_COUNT = '8'
        try {
            $out = & $pwshPath -NoProfile -Command "
                Import-Module '$modulePath'
                Get-HouseEmbedding '$originals/241_frontal.jpg' | Out-Null
                [GC]::Collect()
                `$p = Get-Process -Id `$PID
                `$before = `$p.WorkingSet64
                `$stored = Get-ChildItem '$large' -Filter *.png | Add-HouseVector -StorePath '$large/store.db' -Collection big -PassThru
                `$p.Refresh()
                '{0}|{1}|{2}|{3}' -f `$before, `$p.PeakWorkingSet64, @(`$stored).Count, [Environment]::ProcessorCount
            "
        }
        finally {
            Remove-Item Env:DOTNET_PROCESSOR_COUNT
        }
        $before, $peak, $stored, $workers = ($out | Select-Object -Last 1) -split '\|'
        [int]$workers | Should -Be 8
        [int]$stored | Should -Be 6
        $growth = ([double]$peak - [double]$before) / 1MB
        Write-Host "  peak working set growth: $([Math]::Round($growth)) MiB"
        # The README's bound: one photo larger than the budget decodes alone (840 MB for an interlaced 8-bit PNG of
        # 120 MP: output and libpng's copy), plus the workers' rows and the store; 823 MiB measured. Four at once, as
        # before the budget, would need 3.3 GB.
        $growth | Should -BeLessThan 1000
    }
}
