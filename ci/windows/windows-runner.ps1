<#
.SYNOPSIS
  Real-Windows check of the WinFsp mount (the part Wine cannot run).

.DESCRIPTION
  NOT RUN on the Linux CI machine where this project is built: there is no
  Windows there, and Wine has no WinFsp driver. Written against the WinFsp,
  PowerShell and Win32 documentation; run it on a Windows host (or a GitHub
  Actions `windows-latest` job) as Administrator:

    # on Linux: the exe and the fixtures with their manifests
    bash ci/windows.sh            # leaves nothing behind; instead build with:
    cargo build --release --target x86_64-pc-windows-gnu
    bash ci/fixtures.sh out/fix   # rr.iso, geniso.iso, joliet.iso, plain.iso + NAME.ref.jsonl
    # copy target/x86_64-pc-windows-gnu/release/isomount.exe and out/fix to Windows, then:
    powershell -ExecutionPolicy Bypass -File ci\windows\windows-runner.ps1 `
        -Exe .\isomount.exe -Fixtures .\fix

  Or build on Windows with -Build (MSVC target: needs Rust, and LLVM/libclang
  for winfsp-sys' bindgen, as GitHub's windows runners have).

  For each image it:
   1. installs WinFsp if missing (Chocolatey `winfsp`, else the MSI from
      -WinFspMsiUrl), silently;
   2. mounts the image with `isomount mount IMAGE X:` on a free drive letter;
   3. checks the volume label against `isomount info --json`, that every
      directory of NAME.ref.jsonl exists, that every file has the manifest's
      size, SHA-256 and modification time, that lookups ignore case, and that
      writing is refused;
   4. stops the mount with Ctrl-C (a helper attaches to isomount's console),
      falling back to ending the process, and checks the letter is gone;
   5. then `isomount mount IMAGE` and `isomount open IMAGE --no-open` with no
      mount point: the drive printed on stdout must be the highest free
      letter, exist, and be named on stderr.
  Exits 1 on any difference, printing it.
#>
[CmdletBinding()]
param(
  [string]$Exe = "",
  [string]$Fixtures = "",
  [switch]$Build,
  [string[]]$Images = @("rr", "geniso", "joliet", "plain"),
  # WinFsp 2.1 (the version winfsp-rs 0.13 binds); change when WinFsp moves on.
  [string]$WinFspMsiUrl = "https://github.com/winfsp/winfsp/releases/download/v2.1/winfsp-2.1.25156.msi"
)
$ErrorActionPreference = "Stop"
$script:failed = $false
function Problem([string]$msg) { Write-Host "DIFFERENCE: $msg" -ForegroundColor Red; $script:failed = $true }

# --- isomount.exe -------------------------------------------------------------
if ($Build) {
  Push-Location (Join-Path $PSScriptRoot "..\..")
  cargo build --release --target x86_64-pc-windows-msvc --bin isomount
  if ($LASTEXITCODE -ne 0) { throw "cargo build failed" }
  $Exe = (Resolve-Path "target\x86_64-pc-windows-msvc\release\isomount.exe").Path
  Pop-Location
}
if (-not $Exe -or -not (Test-Path $Exe)) { throw "give -Exe PATH\isomount.exe or -Build" }
$Exe = (Resolve-Path $Exe).Path
if (-not $Fixtures -or -not (Test-Path $Fixtures)) { throw "give -Fixtures DIR (made by ci/fixtures.sh)" }
$Fixtures = (Resolve-Path $Fixtures).Path

# --- WinFsp ------------------------------------------------------------------
function WinFspDir {
  foreach ($k in "HKLM:\SOFTWARE\WOW6432Node\WinFsp", "HKLM:\SOFTWARE\WinFsp") {
    $v = (Get-ItemProperty -Path $k -Name InstallDir -ErrorAction SilentlyContinue).InstallDir
    if ($v) { return $v }
  }
  return $null
}
if (-not (WinFspDir)) {
  Write-Host "== installing WinFsp"
  if (Get-Command choco -ErrorAction SilentlyContinue) {
    choco install winfsp -y --no-progress
  } else {
    $msi = Join-Path $env:TEMP "winfsp.msi"
    Invoke-WebRequest -Uri $WinFspMsiUrl -OutFile $msi
    $p = Start-Process msiexec.exe -ArgumentList "/i `"$msi`" /qn /norestart" -Wait -PassThru
    if ($p.ExitCode -ne 0) { throw "WinFsp MSI failed: $($p.ExitCode)" }
  }
  if (-not (WinFspDir)) { throw "WinFsp still not installed" }
}
Write-Host "WinFsp in $(WinFspDir)"

# --- helpers -----------------------------------------------------------------
function FreeLetter {
  $used = [System.IO.DriveInfo]::GetDrives() | ForEach-Object { $_.Name.Substring(0, 1).ToUpper() }
  foreach ($c in [char[]]"ZYXWVUTSRQPONMLKJIHGFED") { if ($used -notcontains [string]$c) { return "$($c):" } }
  throw "no free drive letter"
}

# Sends Ctrl-C to the console of process $procId from a separate PowerShell
# (attaching to another console would detach this one).
function Send-CtrlC([int]$procId) {
  $helper = @"
Add-Type -Namespace W -Name K -MemberDefinition '
[DllImport("kernel32.dll")] public static extern bool FreeConsole();
[DllImport("kernel32.dll")] public static extern bool AttachConsole(uint p);
[DllImport("kernel32.dll")] public static extern bool SetConsoleCtrlHandler(System.IntPtr h, bool add);
[DllImport("kernel32.dll")] public static extern bool GenerateConsoleCtrlEvent(uint e, uint g);'
[W.K]::FreeConsole() | Out-Null
if (-not [W.K]::AttachConsole($procId)) { exit 2 }
[W.K]::SetConsoleCtrlHandler([System.IntPtr]::Zero, `$true) | Out-Null
if (-not [W.K]::GenerateConsoleCtrlEvent(0, 0)) { exit 3 }
Start-Sleep -Milliseconds 500
exit 0
"@
  $p = Start-Process powershell.exe -ArgumentList "-NoProfile", "-Command", $helper -Wait -PassThru -WindowStyle Hidden
  return $p.ExitCode
}

# The label isomount gives: the image's, or the file name without extension
# when it has none, cut to 32 UTF-16 units without splitting a surrogate pair.
function WantLabel([string]$label, [string]$image) {
  $l = ($label -replace '\p{Cc}', '').Trim()
  if (-not $l) { $l = ([System.IO.Path]::GetFileNameWithoutExtension($image) -replace '\p{Cc}', '').Trim() }
  if (-not $l) { $l = "isomount" }
  if ($l.Length -gt 32) {
    $n = 32
    if ([char]::IsHighSurrogate($l[31])) { $n = 31 }
    $l = $l.Substring(0, $n).TrimEnd()
  }
  return $l
}

# --- per image ---------------------------------------------------------------
foreach ($name in $Images) {
  $iso = Join-Path $Fixtures "$name.iso"
  $ref = Join-Path $Fixtures "$name.ref.jsonl"
  if (-not (Test-Path $iso) -or -not (Test-Path $ref)) { Problem "${name}: $iso or $ref missing"; continue }
  Write-Host "== $name.iso"
  $info = & $Exe info --json $iso | ConvertFrom-Json
  $letter = FreeLetter
  $log = Join-Path $env:TEMP "isomount-$name.log"
  # A console of its own, so that Ctrl-C reaches isomount and not us.
  $proc = Start-Process -FilePath $Exe -ArgumentList "mount", "`"$iso`"", $letter -PassThru `
    -RedirectStandardError $log -WindowStyle Hidden
  $deadline = (Get-Date).AddSeconds(30)
  while (-not (Test-Path "$letter\") -and (Get-Date) -lt $deadline -and -not $proc.HasExited) { Start-Sleep -Milliseconds 200 }
  if (-not (Test-Path "$letter\")) {
    Problem "${name}: $letter did not appear: $(Get-Content $log -Raw -ErrorAction SilentlyContinue)"
    if (-not $proc.HasExited) { Stop-Process -Id $proc.Id -Force }
    continue
  }
  try {
    $vol = Get-Volume -DriveLetter $letter.Substring(0, 1) -ErrorAction SilentlyContinue
    $label = if ($vol) { $vol.FileSystemLabel } else { (New-Object System.IO.DriveInfo $letter).VolumeLabel }
    $want = WantLabel $info.label $iso
    if ($label -ne $want) { Problem "${name}: label '$label', image says '$want'" }
    $files = 0; $dirs = 0
    foreach ($line in Get-Content $ref -Encoding UTF8) {
      $e = $line | ConvertFrom-Json
      $p = Join-Path "$letter\" ($e.path -replace "/", "\")
      switch ($e.type) {
        "dir" {
          $dirs++
          if (-not (Test-Path -LiteralPath $p -PathType Container)) { Problem "${name}: directory $($e.path) missing" }
        }
        "file" {
          $files++
          if (-not (Test-Path -LiteralPath $p -PathType Leaf)) { Problem "${name}: file $($e.path) missing"; break }
          $item = Get-Item -LiteralPath $p
          if ($item.Length -ne [int64]$e.size) { Problem "${name}: $($e.path) size $($item.Length), want $($e.size)" }
          $h = (Get-FileHash -LiteralPath $p -Algorithm SHA256).Hash.ToLower()
          if ($h -ne $e.sha256) { Problem "${name}: $($e.path) sha256 $h, want $($e.sha256)" }
          $mt = [DateTimeOffset]::FromUnixTimeSeconds([int64]$e.mtime).UtcDateTime
          if ([math]::Abs(($item.LastWriteTimeUtc - $mt).TotalSeconds) -ge 1) {
            Problem "${name}: $($e.path) mtime $($item.LastWriteTimeUtc.ToString('o')), want $($mt.ToString('o'))"
          }
          if (-not $item.IsReadOnly) { Problem "${name}: $($e.path) is not read-only" }
        }
        default { }  # symlinks show as their targets; specials as empty files
      }
    }
    # Case-insensitive lookup with the image's spelling kept.
    $first = Get-Content $ref -Encoding UTF8 | ForEach-Object { $_ | ConvertFrom-Json } | Where-Object { $_.type -eq "file" } | Select-Object -First 1
    if ($first) {
      $upper = Join-Path "$letter\" (($first.path -replace "/", "\").ToUpperInvariant())
      if (-not (Test-Path -LiteralPath $upper)) { Problem "${name}: case-insensitive lookup of $upper failed" }
    }
    # Read-only volume.
    try { Set-Content -LiteralPath "$letter\isomount-write-test.txt" -Value "x" -ErrorAction Stop; Problem "${name}: a write succeeded" } catch { }
    Write-Host "   $files files (size, sha256, mtime, read-only) and $dirs directories checked on $letter"
  } finally {
    $rc = Send-CtrlC $proc.Id
    if (-not $proc.WaitForExit(15000)) {
      Problem "${name}: Ctrl-C did not stop the mount (helper rc $rc); ending the process"
      Stop-Process -Id $proc.Id -Force
      $proc.WaitForExit(15000) | Out-Null
    }
    Start-Sleep -Milliseconds 500
    if (Test-Path "$letter\") { Problem "${name}: $letter still mounted after the mount process ended" }
  }
}
# --- no mount point, and `open --no-open`: the next free letter, printed ---------
foreach ($cmd in @("mount", "open")) {
  $name = $Images[0]
  $iso = Join-Path $Fixtures "$name.iso"
  Write-Host "== $cmd $name.iso (no mount point)"
  $expect = FreeLetter
  $outFile = Join-Path $env:TEMP "isomount-$cmd-next.out"
  $log = Join-Path $env:TEMP "isomount-$cmd-next.log"
  Remove-Item $outFile, $log -ErrorAction SilentlyContinue
  $argList = @($cmd, "`"$iso`"")
  if ($cmd -eq "open") { $argList += "--no-open" }
  $proc = Start-Process -FilePath $Exe -ArgumentList $argList -PassThru `
    -RedirectStandardOutput $outFile -RedirectStandardError $log -WindowStyle Hidden
  $deadline = (Get-Date).AddSeconds(30)
  $got = $null
  while (-not $got -and (Get-Date) -lt $deadline -and -not $proc.HasExited) {
    Start-Sleep -Milliseconds 200
    $got = Get-Content $outFile -ErrorAction SilentlyContinue | Select-Object -First 1
  }
  if (-not $got) {
    Problem "$cmd with no mount point printed no drive: $(Get-Content $log -Raw -ErrorAction SilentlyContinue)"
    if (-not $proc.HasExited) { Stop-Process -Id $proc.Id -Force }
    continue
  }
  try {
    if ($got -ne $expect) { Problem "$cmd with no mount point: printed '$got', the highest free letter was $expect" }
    if (-not (Test-Path "$got\")) { Problem "$cmd with no mount point: $got\ does not exist" }
    $err = Get-Content $log -Raw
    if ($err -notmatch [regex]::Escape("mounted read-only on $got")) { Problem "${cmd}: stderr does not name ${got}: $err" }
  } finally {
    $rc = Send-CtrlC $proc.Id
    if (-not $proc.WaitForExit(15000)) {
      Problem "${cmd}: Ctrl-C did not stop the mount (helper rc $rc)"
      Stop-Process -Id $proc.Id -Force
    }
  }
}

if ($script:failed) { Write-Host "windows-runner: DIFFERENCES FOUND"; exit 1 }
Write-Host "windows-runner: every image mounted, every file matched its Linux-made manifest, unmounted"
