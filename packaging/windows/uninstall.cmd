@echo off
rem Removes what install.cmd added (current user only).
rem Usage:  uninstall.cmd [PATH\isomount.exe]   (only its file name is used;
rem         default isomount.exe)
setlocal EnableExtensions DisableDelayedExpansion
set "NAME=isomount.exe"
if not "%~1"=="" set "NAME=%~nx1"
set "CLASSES=HKCU\Software\Classes"
for %%E in (iso img bin cue nrg mdf mds ccd cso zso) do (
  reg delete "%CLASSES%\SystemFileAssociations\.%%E\shell\isomount" /f >nul 2>&1
)
reg delete "%CLASSES%\Applications\%NAME%" /f >nul 2>&1
echo isomount: Explorer integration removed
exit /b 0
