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

Describe 'Get-Help about_HouseSimilarity' {
    It 'finds the conceptual topic: backends, distances, thresholds, probability and the dedupe workflow' {
        $topic = Get-Help about_HouseSimilarity | Out-String
        $topic | Should -Match 'about_HouseSimilarity'
        foreach ($part in 'DISTANCES', 'THRESHOLDS AND PROBABILITY', 'BACKENDS', 'THE DEDUPE WORKFLOW', 'Milvus', 'DuplicateProbability', 'Export-HouseDuplicateReport') {
            $topic | Should -Match ([regex]::Escape($part))
        }
    }
}
