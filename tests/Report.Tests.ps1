#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '6.0' }
# The duplicate report in a real headless Chromium (Debian's chromium, driven through chromedriver's WebDriver API):
# it loads from disk, renders the groups, regroups when the slider moves, and exports the removals.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestEnvironment.ps1')
    Set-TestDataHome 'housesim-pester-report'
    $driver = (& bash (Join-Path $root 'tools' 'test-browser.sh') | Select-Object -Last 1)
    if ($LASTEXITCODE -ne 0 -or -not $driver) { throw 'tools/test-browser.sh failed: the report tests need Chromium.' }
    $results = Join-Path $root 'out' 'test-results'
    New-Item -ItemType Directory -Force $results | Out-Null

    Get-ChildItem $originals, $edits -File | Add-HouseVector -Collection report
    $groups = Find-HouseDuplicate -Collection report
    $report = Join-Path $TestDrive 'dupes.html'
    $file = $groups | Export-HouseDuplicateReport -Path $report -PassThru

    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0); $listener.Start()
    $port = $listener.LocalEndpoint.Port; $listener.Stop()
    $chromedriver = Start-Process $driver -ArgumentList "--port=$port" -PassThru -RedirectStandardOutput (Join-Path $TestDrive 'driver.log')
    $base = "http://127.0.0.1:$port"
    $deadline = [DateTime]::UtcNow.AddSeconds(20)
    do { Start-Sleep -Milliseconds 200; $ready = try { (Invoke-RestMethod "$base/status").value.ready } catch { $false } }
    until ($ready -or [DateTime]::UtcNow -gt $deadline)

    function Invoke-WebDriver([string] $Method, [string] $Path, $Body) {
        $json = $null -eq $Body ? $null : ($Body | ConvertTo-Json -Depth 6 -Compress)
        try { (Invoke-RestMethod -Method $Method "$base$Path" -ContentType 'application/json' -Body $json).value }
        catch { throw "WebDriver $Method $Path ($json) failed: $($_.ErrorDetails.Message) $($_.Exception.Message)" }
    }
    $chrome = @{ binary = '/usr/bin/chromium'; args = @('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--window-size=1200,1400',
        "--user-data-dir=$(Join-Path $TestDrive 'chromium')") }
    $session = (Invoke-WebDriver POST /session @{ capabilities = @{ alwaysMatch = @{ browserName = 'chrome'; 'goog:chromeOptions' = $chrome } } }).sessionId
    $s = "/session/$session"
    $elementKey = 'element-6066-11e4-a52e-4f735466cecf'
    function Find-Element([string] $Css) { (Invoke-WebDriver POST "$s/element" @{ using = 'css selector'; value = $Css }).$elementKey }
    function Get-Text([string] $Css) { Invoke-WebDriver GET "$s/element/$(Find-Element $Css)/text" }
    function Get-Count([string] $Css) { @(Invoke-WebDriver POST "$s/elements" @{ using = 'css selector'; value = $Css }).Count }
    function Invoke-Script([string] $Script) { Invoke-WebDriver POST "$s/execute/sync" @{ script = $Script; args = @() } }

    Invoke-WebDriver POST "$s/url" @{ url = [Uri]::new($file.FullName).AbsoluteUri } | Out-Null
}

AfterAll {
    if ($session) { try { Invoke-WebDriver DELETE $s | Out-Null } catch { } }
    if ($chromedriver -and -not $chromedriver.HasExited) { $chromedriver.Kill() }
    Remove-Item $env:XDG_DATA_HOME -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'The duplicate report in headless Chromium' {
    It 'is one self-contained file that renders every group with its thumbnails' {
        $groups.Count | Should -Be 5
        $html = Get-Content $report -Raw
        $html | Should -Not -Match '(src|href)="https?://'
        Get-Text '#group-count' | Should -Be '5'
        Get-Count 'section.group' | Should -Be 5
        Get-Count 'section.group figure' | Should -Be ($groups.Members.Count)
        Get-Count 'figure img[src^="data:image/jpeg;base64,"]' | Should -Be ($groups.Members.Count)
        Get-Count 'figure.keeper' | Should -Be 5
        Get-Text '#remove-count' | Should -Be ($groups.Duplicates.Count).ToString()
        Get-Count '#histogram rect' | Should -BeGreaterThan 50
    }

    It 'regroups live when the slider moves, and keeps a screenshot' {
        $before = [IO.Path]::Combine($results, 'report.png')
        [IO.File]::WriteAllBytes($before, [Convert]::FromBase64String((Invoke-WebDriver GET "$s/screenshot")))
        (Get-Item $before).Length | Should -BeGreaterThan 10KB
        $slider = Find-Element '#threshold'
        # The keyboard, as a user moves a range input: Home is its minimum (0), then 30 steps of 0.005 to the right.
        Invoke-WebDriver POST "$s/element/$slider/value" @{ text = [string][char]0xE011 } | Out-Null
        Get-Text '#threshold-value' | Should -Be '0.000'
        $atZero = [int](Get-Text '#group-count')
        $atZero | Should -BeLessThan 5
        $atZero | Should -Be (Get-Count 'section.group')
        Invoke-WebDriver POST "$s/element/$slider/value" @{ text = ([string][char]0xE014) * 30 } | Out-Null
        Get-Text '#threshold-value' | Should -Be '0.150'
        $atTight = [int](Get-Text '#group-count')
        Get-Count 'section.group' | Should -Be $atTight
        # At 0.15 the mirrored and cropped copies fall out: fewer photos to remove than at the scan's threshold.
        [int](Get-Text '#remove-count') | Should -BeLessThan ($groups.Duplicates.Count)
        [IO.File]::WriteAllBytes([IO.Path]::Combine($results, 'report-0.15.png'), [Convert]::FromBase64String((Invoke-WebDriver GET "$s/screenshot")))
        Invoke-WebDriver POST "$s/element/$slider/value" @{ text = [string][char]0xE010 } | Out-Null   # End: back to the scan's threshold
        Get-Text '#group-count' | Should -Be '5'
    }

    It 'exports the removals it shows: every photo but each keeper, and a click changes the keeper' {
        $removals = Invoke-Script 'return removals().map(r => r.remove)'
        @($removals).Count | Should -Be $groups.Duplicates.Count
        ($removals | Sort-Object) -join "`n" | Should -Be (($groups.Duplicates.Path | Sort-Object) -join "`n")
        $groups.Keeper.Path | ForEach-Object { $removals | Should -Not -Contain $_ }
        # Click the second photo of the first group: it becomes the keeper and the old keeper is to be removed.
        $second = (Invoke-WebDriver POST "$s/elements" @{ using = 'css selector'; value = 'section.group:first-of-type figure' })[1].$elementKey
        Invoke-WebDriver POST "$s/element/$second/click" @{} | Out-Null
        $after = Invoke-Script 'return removals().map(r => r.remove)'
        $after | Should -Contain $groups[0].Keeper.Path
        @($after).Count | Should -Be $groups.Duplicates.Count
    }
}
