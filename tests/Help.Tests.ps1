#Requires -Modules @{ ModuleName = 'Pester'; ModuleVersion = '6.0' }
# Get-Help as a user sees it: the MAML help that build.ps1 writes to out/HouseSimilarity/en-US from docs/*.md.

BeforeDiscovery {
    $manifest = Import-PowerShellDataFile (Join-Path (Split-Path $PSScriptRoot) 'HouseSimilarity.psd1')
    $cmdlets = $manifest.CmdletsToExport | ForEach-Object { @{ Name = $_ } }
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestEnvironment.ps1')
    $common = [System.Management.Automation.Cmdlet]::CommonParameters

    function Get-Text($Node) { (@($Node) | ForEach-Object { $_.Text }) -join ' ' }
}

Describe 'Get-Help <Name> -Full' -ForEach $cmdlets {
    BeforeAll {
        $help = Get-Help $Name -Full
        $command = Get-Command $Name
        $parameters = @($command.Parameters.Keys | Where-Object { $_ -notin $common })
    }

    It 'comes from the module''s help file' {
        $helpFile = Join-Path (Split-Path $modulePath) 'en-US' 'HouseSimilarity.dll-Help.xml'
        $helpFile | Should -Exist
        Split-Path -Leaf $command.HelpFile | Should -Be 'HouseSimilarity.dll-Help.xml'
    }

    It 'has a written synopsis and description, not the generated syntax' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        $help.Synopsis | Should -Not -Match "^\s*$([regex]::Escape($Name))(\s|$)"
        Get-Text $help.description | Should -Not -BeNullOrEmpty
    }

    It 'has at least one example, each with code and an explanation' {
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 1
        foreach ($example in $examples) {
            $example.code | Should -Match $Name
            Get-Text $example.remarks | Should -Not -BeNullOrEmpty
        }
    }

    It 'describes every parameter of the cmdlet, and no other' {
        $documented = @($help.parameters.parameter | Where-Object { $_ } | ForEach-Object { $_.name })
        ($documented | Sort-Object) -join ', ' | Should -Be (($parameters | Sort-Object) -join ', ')
        foreach ($parameter in @($help.parameters.parameter | Where-Object { $_ })) {
            Get-Text $parameter.description | Should -Not -BeNullOrEmpty -Because "-$($parameter.name) needs a description"
        }
    }

    It 'shows one syntax per parameter set, with the parameters, required flags and positions of that set' {
        $items = @($help.syntax.syntaxItem)
        $items.Count | Should -Be $command.ParameterSets.Count
        foreach ($set in $command.ParameterSets) {
            $expected = @($set.Parameters | Where-Object Name -notin $common | ForEach-Object {
                    '{0}:{1}:{2}' -f $_.Name, $_.IsMandatory.ToString().ToLower(), ($_.Position -ge 0 ? $_.Position : 'named')
                } | Sort-Object) -join ' '
            $shown = $items | ForEach-Object {
                (@($_.parameter | Where-Object { $_ } | ForEach-Object { '{0}:{1}:{2}' -f $_.name, $_.required, $_.position }) | Sort-Object) -join ' '
            }
            $shown | Should -Contain $expected -Because "parameter set '$($set.Name)' needs its syntax"
        }
    }
}

Describe 'Get-Help -Online and the manifest' -ForEach $cmdlets {
    It '<Name> has an online version: the first related link, which Get-Help -Online opens' {
        $link = @((Get-Help $Name).relatedLinks.navigationLink | Where-Object { $_.uri })[0]
        $link.linkText | Should -Be 'Online Version'
        $link.uri | Should -Be "https://github.com/housesimilarity/HouseSimilarity/blob/main/docs/$Name.md"
    }
}

Describe 'The module manifest' {
    It 'names the project, its help and its release notes' {
        $module = Get-Module HouseSimilarity
        $module.ProjectUri | Should -Be 'https://github.com/housesimilarity/HouseSimilarity'
        $module.HelpInfoUri | Should -BeLike 'https://github.com/housesimilarity/HouseSimilarity/*'
        $module.ReleaseNotes | Should -Not -BeNullOrEmpty
    }
}

# The first example of every cmdlet runs as written, from the repository root, on the photos the build writes to
# out/samples: taken from the built help (what Get-Help shows), run on a store of its own.
Describe 'Example 1 of <Name> runs as written' -ForEach $cmdlets {
    BeforeAll {
        Set-TestDataHome "housesim-examples-$Name"
        $samplesBefore = (Get-ChildItem $samples -Recurse -File).FullName
    }

    AfterAll {
        Disconnect-HouseStore
        Remove-Item $env:XDG_DATA_HOME -Recurse -Force -ErrorAction SilentlyContinue
        Remove-Item (Join-Path $root 'out' 'duplicates.html'), (Join-Path $root 'out' 'samples.csv'), (Join-Path $root 'out' 'dupes.html') -ErrorAction SilentlyContinue
    }

    It 'without an error, and deletes no sample photo' {
        $code = @((Get-Help $Name).examples.example)[0].code
        $code | Should -Match 'out/samples|Get-HouseStore|Connect-HouseStore'
        Push-Location $root
        try {
            $output = & { $ErrorActionPreference = 'Stop'; . ([scriptblock]::Create($code)) } 2>&1 3>&1 | Out-String -Width 120
        }
        finally { Pop-Location }
        $output | Should -Not -Match 'Exception|error' -Because $output
        (Get-ChildItem $samples -Recurse -File).FullName | Should -Be $samplesBefore
    }
}

Describe 'Get-Help about_HouseSimilarity' {
    It 'finds the conceptual topic: backends, distances, thresholds, probability and the dedupe workflow' {
        $topic = Get-Help about_HouseSimilarity | Out-String
        $topic | Should -Match 'about_HouseSimilarity'
        foreach ($part in 'DISTANCES', 'THRESHOLDS AND PROBABILITY', 'BACKENDS', 'THE DEDUPE WORKFLOW', 'Milvus', 'DuplicateProbability', 'Export-HouseDuplicateReport') {
            $topic | Should -Match ([regex]::Escape($part))
        }
    }
}
