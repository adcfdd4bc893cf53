<#
.SYNOPSIS
    The main job on the embedded default store: sample photos in, similar and duplicate photos out.
#>
param(
    [Parameter(Mandatory)] [string] $Module,
    [Parameter(Mandatory)] [string] $Samples
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $Module 'HouseSimilarity.psd1')
$photos = (Join-Path $Samples 'originals'), (Join-Path $Samples 'edits')

# The demo collection is rebuilt on each run, so a rebuilt module with a new model starts afresh.
Get-HouseCollection demo -ErrorAction Ignore | Remove-HouseCollection -Confirm:$false

Write-Host "`n== Get-ChildItem <samples> | Add-HouseVector -Collection demo" -ForegroundColor Cyan
$added = Get-ChildItem $photos -File | Add-HouseVector -Collection demo -PassThru
Get-HouseCollection demo | Format-Table | Out-Host

$query = Join-Path $Samples 'edits' '241_frontal.watermark.jpg'
Write-Host "== Find-SimilarHouse $(Split-Path -Leaf $query) -Top 5 -Collection demo" -ForegroundColor Cyan
Find-SimilarHouse $query -Top 5 -Collection demo |
    Format-Table Rank, @{ n = 'Distance'; e = { '{0:N4}' -f $_.Distance } }, IsDuplicate, @{ n = 'Photo'; e = { Split-Path -Leaf $_.Path } } -AutoSize |
    Out-Host

Write-Host '== Duplicate groups: every stored photo searched against the collection' -ForegroundColor Cyan
$grouped = @{}
foreach ($record in $added) {
    if ($grouped.ContainsKey($record.Id)) { continue }
    $copies = @(Find-SimilarHouse -Id $record.Id -Top 20 -Collection demo | Where-Object IsDuplicate)
    if ($copies.Count -eq 0) { continue }
    $grouped[$record.Id] = $true
    $copies | ForEach-Object { $grouped[$_.Id] = $true }
    Write-Host (Split-Path -Leaf $record.Path)
    $copies | ForEach-Object { Write-Host ('    {0,-40} distance {1:N3}' -f (Split-Path -Leaf $_.Path), $_.Distance) }
}
Write-Host "`nThe collection 'demo' stays in $((Get-HouseCollection demo).Location): try Find-SimilarHouse <photo> -Collection demo."
