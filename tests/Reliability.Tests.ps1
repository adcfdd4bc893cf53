#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '6.0' }
# What an unlucky operator meets on the embedded store: a full disk, a damaged store file, two copies of one store,
# another process removing photos while this one searches. Each must be a clear error naming the store, never a
# wrong answer, and nothing already stored may be lost.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestEnvironment.ps1')
    Set-TestDataHome 'housesim-reliability'
    $photos = @(Get-ChildItem $originals, $edits -File | Sort-Object FullName)

    # The errors of a read, a search and an add on one store, one list per command (terminating or not).
    function Get-StoreCommandErrors([string] $Store) {
        foreach ($command in { Get-HouseCollection -StorePath $Store },
                             { Find-SimilarHouse $photos[0].FullName -StorePath $Store },
                             { $photos[5] | Add-HouseVector -StorePath $Store }) {
            $errors = @()
            try { & $command -ErrorVariable +errors -ErrorAction SilentlyContinue | Out-Null }
            catch { $errors += $_ }
            , $errors
        }
    }
}

AfterAll {
    Remove-Item $env:XDG_DATA_HOME -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'A full disk under the embedded store' {
    BeforeAll {
        # A small file system of its own (a tmpfs of 2 MiB), so that "full" is real and touches nothing else.
        $disk = Join-Path ([IO.Path]::GetTempPath()) "housesim-full-$PID"
        New-Item -ItemType Directory -Force $disk | Out-Null
        & mount -t tmpfs -o size=2m tmpfs $disk
        if ($LASTEXITCODE -ne 0) { throw "These tests mount a 2 MiB tmpfs at $disk and need root on Linux." }

        # Fills the disk until at most $Leave bytes are left.
        function Set-FreeSpace([long] $Leave) {
            Remove-Item (Join-Path $disk 'filler') -ErrorAction SilentlyContinue
            $free = [IO.DriveInfo]::new($disk).AvailableFreeSpace
            $stream = [IO.File]::OpenWrite((Join-Path $disk 'filler'))
            try {
                $chunk = [byte[]]::new(4096)
                for ($written = 0L; $written -lt $free - $Leave; $written += $chunk.Length) { $stream.Write($chunk, 0, $chunk.Length) }
            }
            catch [IO.IOException] { }
            finally { try { $stream.Dispose() } catch [IO.IOException] { } }
        }
    }

    AfterAll {
        & umount $disk
        Remove-Item $disk -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'a store that cannot be created on it is one StoreFull error naming the file, and leaves nothing behind' {
        Set-FreeSpace 0
        $store = Join-Path $disk 'new' 'houses.db'
        $other = @()
        $e = { $photos | Select-Object -First 3 | Add-HouseVector -StorePath $store -ErrorVariable +other -ErrorAction SilentlyContinue } |
            Should -Throw -PassThru
        $other | Where-Object { $_ -ne $e } | Should -BeNullOrEmpty
        $e.FullyQualifiedErrorId | Should -BeLike 'StoreFull*'
        $e.CategoryInfo.Category | Should -Be 'WriteError'
        $e.Exception.Message | Should -BeLike "*'$store'*disk is full*"
        Test-Path (Join-Path $disk 'new') | Should -BeFalse
    }

    It 'filling up during an ingest: each photo of a refused batch is NotStored, one warning, nothing stored is lost' {
        Remove-Item (Join-Path $disk 'filler') -ErrorAction SilentlyContinue
        $store = Join-Path $disk 'houses.db'
        $first = $photos | Select-Object -First 4
        $first | Add-HouseVector -StorePath $store -Collection full
        # Room to open the store (its 32 KB WAL index) and a few batches, far from the room all the photos need.
        Set-FreeSpace (96KB)
        $errors = @(); $warnings = @()
        $stored = @($photos | Add-HouseVector -StorePath $store -Collection full -BatchSize 2 -PassThru `
                -ErrorVariable +errors -ErrorAction SilentlyContinue -WarningVariable +warnings -WarningAction SilentlyContinue)
        $errors.Count | Should -BeGreaterThan 0
        $stored.Count | Should -BeGreaterThan 0 -Because 'the disk fills during the ingest, not before it'
        $errors.Count + $stored.Count | Should -Be $photos.Count
        foreach ($e in $errors) {
            $e.FullyQualifiedErrorId | Should -BeLike 'NotStored*'
            $e.Exception.GetType().Name | Should -Be 'HouseStoreException'
            $e.Exception.Kind | Should -Be 'StorageFull'
            $e.Exception.Message | Should -BeLike "*was not stored*'$store'*disk is full*"
            $photos.FullName | Should -Contain $e.TargetObject
        }
        $warnings.Count | Should -Be 1
        $warnings[0] | Should -BeLike "$($errors.Count) photos were not stored*"

        Remove-Item (Join-Path $disk 'filler')
        $kept = @(Get-HouseVector -StorePath $store -Collection full)
        $kept.Id | Should -Contain $first[0].FullName
        $expected = @($first.FullName) + @($stored.Id) | Sort-Object -Unique
        $kept.Id | Sort-Object | Should -Be $expected -Because 'the first photos and every photo reported stored are kept'
        # Once there is room again, the same command adds the rest.
        $photos | Add-HouseVector -StorePath $store -Collection full
        (Get-HouseCollection full -StorePath $store).Count | Should -Be $photos.Count
    }
}

Describe 'A store on a read-only file system' {
    BeforeAll {
        $readOnly = Join-Path ([IO.Path]::GetTempPath()) "housesim-ro-$PID"
        New-Item -ItemType Directory -Force $readOnly | Out-Null
        & mount -t tmpfs -o size=4m tmpfs $readOnly
        if ($LASTEXITCODE -ne 0) { throw "This test mounts a tmpfs at $readOnly and needs root on Linux." }
    }

    AfterAll {
        & umount $readOnly
        Remove-Item $readOnly -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'is one StoreReadOnly error naming the file, whatever the command, and the store is intact afterwards' {
        $store = Join-Path $readOnly 'houses.db'
        $photos | Select-Object -First 3 | Add-HouseVector -StorePath $store
        & mount -o remount,ro $readOnly
        foreach ($errors in Get-StoreCommandErrors $store) {
            $errors.Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -BeLike 'StoreReadOnly*'
            $errors[0].Exception.Message | Should -BeLike "*'$store'*read-only*"
        }
        & mount -o remount,rw $readOnly
        (Get-HouseCollection -StorePath $store).Count | Should -Be 3
    }
}

Describe 'A damaged store file' {
    It 'is one StoreCorrupt error naming the file, whatever the command' {
        $store = Join-Path $TestDrive 'damaged.db'
        $photos | Add-HouseVector -StorePath $store
        $bytes = [IO.File]::ReadAllBytes($store)
        [Random]::new(1).NextBytes($bytes)
        [IO.File]::WriteAllBytes($store, $bytes)
        foreach ($errors in Get-StoreCommandErrors $store) {
            $errors.Count | Should -Be 1
            $errors[0].FullyQualifiedErrorId | Should -BeLike 'StoreCorrupt*'
            $errors[0].CategoryInfo.Category | Should -Be 'InvalidData'
            $errors[0].Exception.Message | Should -BeLike "*'$store'*"
        }
    }
}

Describe 'Two copies of one store file in one session' {
    It 'each answers with its own photos' {
        $a = Join-Path $TestDrive 'a.db'
        $b = Join-Path $TestDrive 'b.db'
        $photos | Select-Object -First 10 | Add-HouseVector -StorePath $a
        Copy-Item $a $b
        # One change to each copy, from the same state.
        $onlyA = $photos[10].FullName
        $onlyB = $photos[11].FullName
        Add-HouseVector $onlyA -StorePath $a
        (Find-SimilarHouse $onlyA -StorePath $a -Top 1 -IncludeSelf).Id | Should -Be $onlyA
        Add-HouseVector $onlyB -StorePath $b
        $match = Find-SimilarHouse $onlyB -StorePath $b -Top 1 -IncludeSelf
        $match.Id | Should -Be $onlyB
        $match.Distance | Should -Be 0
        (Find-SimilarHouse $onlyB -StorePath $a -Top 20 -IncludeSelf).Id | Should -Not -Contain $onlyB
    }
}

Describe 'Remove-HouseVector in another process while this one searches' {
    It 'every search answers with photos that exist, none fails' {
        $store = Join-Path $TestDrive 'race.db'
        $photos | Add-HouseVector -StorePath $store
        $ids = $photos.FullName
        $done = Join-Path $TestDrive 'remover.done'
        $script = "Import-Module '$modulePath'; `$ProgressPreference = 'SilentlyContinue'
            foreach (`$round in 1..10) {
                foreach (`$id in '$($ids[0..5] -join "','")') {
                    Remove-HouseVector -Id `$id -StorePath '$store' -Confirm:`$false
                    Add-HouseVector -LiteralPath `$id -StorePath '$store'
                }
            }
            Set-Content '$done' 'done'"
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($script))
        $remover = Start-Process $pwshPath -ArgumentList '-NoProfile', '-EncodedCommand', $encoded -PassThru
        try {
            $query = Get-HouseEmbedding $photos[0].FullName
            $searches = 0
            $errors = @()
            while (-not (Test-Path $done) -and -not $remover.HasExited) {
                $found = @($query | Find-SimilarHouse -StorePath $store -Top 10 -IncludeSelf -ErrorVariable +errors -ErrorAction SilentlyContinue)
                $found.Id | ForEach-Object { $ids | Should -Contain $_ }
                $searches++
            }
            $remover.WaitForExit()
            $remover.ExitCode | Should -Be 0
            Test-Path $done | Should -BeTrue
            $errors | Should -BeNullOrEmpty
            $searches | Should -BeGreaterThan 20
        }
        finally {
            if (-not $remover.HasExited) { $remover.Kill() }
        }
        (Get-HouseCollection -StorePath $store).Count | Should -Be $photos.Count
    }
}

Describe 'An ingest killed while it writes the HNSW index' {
    It 'never leaves an index that disagrees with the rows: after each kill the photos are found as themselves' {
        $store = Join-Path $TestDrive 'killed-index.db'
        $log = Join-Path $TestDrive 'rounds.txt'
        $model = (Get-HouseEmbedding $photos[0].FullName).ModelId
        # A small switch point, so that a few thousand vectors are searched through the index; each round adds 1100 vectors
        # (enough changes for a new index file), so the process spends much of its time writing index files.
        $script = "`$env:HOUSESIM_INDEX_MIN_ROWS = '500'; Import-Module '$modulePath'; `$ProgressPreference = 'SilentlyContinue'
            `$rng = [Random]::new(`$PID)
            for (`$round = 0; ; `$round++) {
                `$batch = foreach (`$i in 1..1100) {
                    `$v = [float[]]::new(128)
                    for (`$j = 0; `$j -lt 128; `$j++) { `$v[`$j] = `$rng.NextDouble() - 0.5 }
                    `$norm = [Math]::Sqrt([Linq.Enumerable]::Sum([double[]]`$v.ForEach({ `$_ * `$_ })))
                    for (`$j = 0; `$j -lt 128; `$j++) { `$v[`$j] = `$v[`$j] / `$norm }
                    `$id = '/syn/{0}-{1}-{2}.jpg' -f `$PID, `$round, `$i
                    [pscustomobject]@{ Id = `$id; Path = `$id; Sha256 = ('{0:x64}' -f `$i); Width = 1; Height = 1; ModelId = '$model'; Vector = `$v }
                }
                `$batch | Add-HouseVector -StorePath '$store'
                Add-Content -LiteralPath '$log' -Value `$round
            }"
        $encoded = [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($script))
        $env:HOUSESIM_INDEX_MIN_ROWS = '500'
        try {
            $random = [Random]::new()
            $killedWriting = 0
            foreach ($kill in 1..4) {
                Remove-Item $log -ErrorAction SilentlyContinue
                $process = Start-Process $pwshPath -ArgumentList '-NoProfile', '-EncodedCommand', $encoded -PassThru
                try {
                    $deadline = [DateTime]::UtcNow.AddSeconds(120)
                    while (-not ((Test-Path $log) -and @(Get-Content $log).Count -ge 1) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
                    Test-Path $log | Should -BeTrue -Because 'the ingest must have finished a round before it is killed'
                    if ($kill % 2) {
                        # Killed as it saves a file (the temporary file exists), or at most a few seconds later.
                        $deadline = [DateTime]::UtcNow.AddSeconds(5)
                        while (-not (Get-ChildItem $TestDrive -Filter 'killed-index.db.default.*.hnsw.tmp') -and [DateTime]::UtcNow -lt $deadline) { }
                    }
                    else { Start-Sleep -Milliseconds $random.Next(0, 1500) }
                }
                finally { $process.Kill(); $process.WaitForExit() }
                if (Get-ChildItem $TestDrive -Filter 'killed-index.db.default.*.hnsw.tmp') { $killedWriting++ }

                $collection = Get-HouseCollection -StorePath $store
                $collection.IndexType | Should -Be 'Hnsw'
                $errors = @()
                $ids = @(Get-HouseVector -StorePath $store -NoVector | Get-Random -Count 50).Id
                $missed = foreach ($id in $ids) {
                    $first = Find-SimilarHouse -Id $id -StorePath $store -Top 1 -IncludeSelf -ErrorVariable +errors
                    if ($first.Id -ne $id) {
                        # Another photo at distance 0 would be an index entry that disagrees with its row.
                        $first.Distance | Should -BeGreaterThan 0.01 -Because "$($first.Id) is not $id"
                        $id
                    }
                }
                # Random vectors are HNSW's hardest case: about 1 in 5,000 is missed by an approximate search (measured
                # on 5,500 such vectors). An index that lost or mixed up rows misses a good part of them.
                @($missed).Count | Should -BeLessOrEqual 1 -Because "photos not found as themselves: $missed"
                $errors | Should -BeNullOrEmpty
            }
            Write-Host "  (killed while an index file was being written: $killedWriting of 4)"
        }
        finally { Remove-Item Env:HOUSESIM_INDEX_MIN_ROWS }
    }
}
