# Intune Win32 app detection script for the Farmwatch agent.
#
# Intune counts the app as installed when this script exits 0 AND writes something to standard
# output. When the agent is missing, too old or disabled it writes nothing and exits 1, so the
# same script also serves Workspace ONE's "custom script" criteria (success = exit code 0). Upload it with
# "Run script as 32-bit process on 64-bit clients" = No and "Enforce script signature check" = No
# (or sign it with a certificate your devices trust).
#
# Raise $MinimumVersion to the version you deploy when you supersede an older release, so that
# devices still on the old one are seen as "not installed" and get the new MSI.

$MinimumVersion = [version]'0.0.0'
$ServiceName = 'farmwatch-agent'

$ErrorActionPreference = 'Stop'
try {
    $svc = Get-CimInstance -ClassName Win32_Service -Filter "Name='$ServiceName'"
    if (-not $svc) { exit 1 }                       # not installed
    if ($svc.StartMode -eq 'Disabled') { exit 1 }   # installed but switched off: reinstall

    # PathName is the service command line: "C:\Program Files\...\farmwatch-agent.exe" run ...
    if ($svc.PathName -match '^\s*"([^"]+)"' -or $svc.PathName -match '^\s*(\S+)') {
        $exe = $Matches[1]
    } else { exit 1 }
    if (-not (Test-Path -LiteralPath $exe -PathType Leaf)) { exit 1 }

    # "farmwatch-agent 1.4.2 windows/amd64 go1.26.0"; a development build says "dev".
    $out = & $exe version 2>$null | Select-Object -First 1
    if ($out -notmatch '^farmwatch-agent v?(\d+)\.(\d+)\.(\d+)') { exit 1 }
    $installed = [version]("{0}.{1}.{2}" -f $Matches[1], $Matches[2], $Matches[3])
    if ($installed -lt $MinimumVersion) { exit 1 }

    Write-Output "Farmwatch agent $installed, service $ServiceName $($svc.State)"
    exit 0
} catch {
    exit 1                                          # anything unexpected: not detected, the MDM retries
}
