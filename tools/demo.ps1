<#
.SYNOPSIS
    The main job on the embedded store: sample photos in, similar and duplicate photos out.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string] $Samples
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $Module 'HouseSimilarity.psd1')
$store = Join-Path ([IO.Path]::GetTempPath()) "housesim-demo-$PID.db"
$PSDefaultParameterValues['*-House*:StorePath'] = $store
$PSDefaultParameterValues['*-House*:Collection'] = 'demo'

Write-Host "`n== Add-HouseVector: $(Join-Path $Samples 'originals') and the edited copies in $(Join-Path $Samples 'edits')" -ForegroundColor Cyan
$added = Get-ChildItem (Join-Path $Samples 'originals'), (Join-Path $Samples 'edits') -File | Add-HouseVector -PassThru
Get-HouseCollection -StorePath $store | Format-Table -AutoSize | Out-Host

$query = Join-Path $Samples 'edits' '241_frontal.watermark-small_br.jpg'
Write-Host "== Find-SimilarHouse $(Split-Path -Leaf $query) -Top 5" -ForegroundColor Cyan
Find-SimilarHouse $query -Top 5 | Format-Table Rank, Distance, Similarity, IsDuplicate, @{ n = 'Photo'; e = { Split-Path -Leaf $_.Path } } -AutoSize | Out-Host

Write-Host '== Duplicate groups (every stored photo against the store)' -ForegroundColor Cyan
$seen = @{}
foreach ($record in $added) {
    if ($seen.ContainsKey($record.Id)) { continue }
    $copies = @(Find-SimilarHouse -Id $record.Id -Top 20 | Where-Object IsDuplicate)
    if ($copies.Count -eq 0) { continue }
    $seen[$record.Id] = $true
    $copies | ForEach-Object { $seen[$_.Id] = $true }
    Write-Host ("{0}`n    {1}" -f (Split-Path -Leaf $record.Path), (($copies | ForEach-Object { '{0} (d={1:N3})' -f (Split-Path -Leaf $_.Path), $_.Distance }) -join "`n    "))
}
Remove-Item $store* -ErrorAction SilentlyContinue
