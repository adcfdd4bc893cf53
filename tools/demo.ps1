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

# The demo collection is rebuilt on each run, so a rebuilt module with a new model starts afresh. A fresh clone has
# no store yet (reading commands never create one): then there is nothing to remove.
if (Test-Path -LiteralPath (Get-HouseStore).Location) {
    Get-HouseCollection demo -ErrorAction Ignore | Remove-HouseCollection -Confirm:$false
}

Write-Host "`n== Get-ChildItem <samples> | Add-HouseVector -Collection demo" -ForegroundColor Cyan
$added = Get-ChildItem $photos -File | Add-HouseVector -Collection demo -PassThru
Get-HouseCollection demo | Format-Table | Out-Host

$query = Join-Path $Samples 'edits' '241_frontal.watermark.jpg'
Write-Host "== Find-SimilarHouse $(Split-Path -Leaf $query) -Top 5 -Collection demo" -ForegroundColor Cyan
Find-SimilarHouse $query -Top 5 -Collection demo |
    Format-Table Rank, @{ n = 'Distance'; e = { '{0:N4}' -f $_.Distance } }, IsDuplicate, @{ n = 'Photo'; e = { Split-Path -Leaf $_.Path } } -AutoSize |
    Out-Host

Write-Host '== Find-HouseDuplicate -Collection demo' -ForegroundColor Cyan
$groups = Find-HouseDuplicate -Collection demo
$groups | Format-Table Group, Kind, Count, @{ n = 'MaxDistance'; e = { '{0:N3}' -f $_.MaxDistance } },
    @{ n = 'Keeper'; e = { Split-Path -Leaf $_.Keeper.Path } }, KeeperReason -AutoSize | Out-Host
foreach ($group in $groups) {
    Write-Host ("Group {0}: keep {1}" -f $group.Group, (Split-Path -Leaf $group.Keeper.Path))
    $group.Duplicates | ForEach-Object { Write-Host ('    {0,-40} distance {1:N3}' -f (Split-Path -Leaf $_.Path), $_.DistanceToKeeper) }
}

$report = Join-Path (Split-Path $Samples) 'duplicates.html'
Write-Host "`n== Find-HouseDuplicate -Collection demo | Export-HouseDuplicateReport -Path $report" -ForegroundColor Cyan
$groups | Export-HouseDuplicateReport -Path $report | Out-Null
Write-Host "Open $report in a browser to review the groups, move the threshold and export the removals."
Write-Host "The collection 'demo' stays in $((Get-HouseCollection demo).Location): try Find-SimilarHouse <photo> -Collection demo."
