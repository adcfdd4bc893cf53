@{
    RootModule             = 'HouseSimilarity.psm1'
    HelpInfoUri            = 'https://github.com/housesimilarity/HouseSimilarity/tree/main/docs'
    ModuleVersion          = '0.1.0'
    GUID                   = '6f1c7a52-3d0e-4a57-9a43-58b1d2f0c7e4'
    Author                 = 'HouseSimilarity'
    CompanyName            = 'HouseSimilarity'
    Copyright              = '(c) HouseSimilarity. MIT License.'
    Description            = 'Finds duplicate and similar house photos: a Siamese CNN embeds each photo, a vector store searches them by Euclidean distance.'
    PowerShellVersion      = '7.6'
    CompatiblePSEditions   = @('Core')
    FormatsToProcess       = @('HouseSimilarity.Format.ps1xml')
    FunctionsToExport      = @()
    CmdletsToExport        = @(
        'Get-HouseEmbedding'
        'Add-HouseVector'
        'Find-SimilarHouse'
        'Find-HouseDuplicate'
        'Export-HouseDuplicateReport'
        'Remove-HouseDuplicate'
        'Add-HouseDuplicateExclusion'
        'Get-HouseDuplicateExclusion'
        'Remove-HouseDuplicateExclusion'
        'Compare-HouseImage'
        'Get-HouseCollection'
        'Get-HouseVector'
        'Remove-HouseVector'
        'Remove-HouseCollection'
        'Connect-HouseStore'
        'Disconnect-HouseStore'
        'Get-HouseStore'
    )
    VariablesToExport      = @()
    AliasesToExport        = @()
    PrivateData            = @{
        PSData = @{
            Tags         = @('image', 'duplicate', 'similarity', 'onnx', 'vector-search', 'real-estate')
            LicenseUri   = 'https://opensource.org/licenses/MIT'
            ProjectUri   = 'https://github.com/housesimilarity/HouseSimilarity'
            ReleaseNotes = 'https://github.com/housesimilarity/HouseSimilarity/blob/main/README.md#release-notes'
        }
    }
}
