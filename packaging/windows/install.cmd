@echo off
rem Explorer integration for isomount, for the current user only (HKCU: no
rem administrator rights needed). It adds:
rem  * "Mount with isomount" to the context menu of disc images (.iso .img
rem    .bin .cue .nrg .mdf .mds .ccd .cso .zso); on Windows 11 it is under
rem    "Show more options";
rem  * isomount as an application for them (Applications\isomount.exe, with
rem    SupportedTypes): it shows in their "Open with" list and runs the same
rem    command, so "Open with > isomount" and "Choose another app > isomount
rem    > Always use this app" work too.
rem Both run:  "C:\path\isomount.exe" open "IMAGE"  (mount on the next free
rem drive letter, open Explorer there; close its window to unmount).
rem
rem Usage:  install.cmd [PATH\isomount.exe]
rem         (default: the isomount.exe next to this script)
rem Undo:   uninstall.cmd
rem See docs\windows.md.
setlocal EnableExtensions DisableDelayedExpansion
set "EXE=%~1"
if not defined EXE set "EXE=%~dp0isomount.exe"
for %%I in ("%EXE%") do set "EXE=%%~fI"
if not exist "%EXE%" (
  echo install.cmd: "%EXE%" not found: give the path of isomount.exe 1>&2
  exit /b 1
)
for %%I in ("%EXE%") do set "NAME=%%~nxI"
rem From here on !VAR!: expanded after cmd has parsed the line, so a path
rem with spaces, & or ( ) in it stays as it is.
setlocal EnableDelayedExpansion
set "CLASSES=HKCU\Software\Classes"
set "APP=!CLASSES!\Applications\!NAME!"
rem The command, its quotes escaped for reg.exe (a batch file writes %1 as
rem %%1). No "|| goto failed" below: Wine's cmd runs it even after a success.
set CMDLINE=\"!EXE!\" open \"%%1\"

reg add "!APP!" /v FriendlyAppName /d "isomount" /f >nul
if errorlevel 1 goto failed
reg add "!APP!\shell\open\command" /ve /d "!CMDLINE!" /f >nul
if errorlevel 1 goto failed
for %%E in (iso img bin cue nrg mdf mds ccd cso zso) do (
  reg add "!CLASSES!\SystemFileAssociations\.%%E\shell\isomount" /ve /d "Mount with isomount" /f >nul
  if errorlevel 1 goto failed
  reg add "!CLASSES!\SystemFileAssociations\.%%E\shell\isomount\command" /ve /d "!CMDLINE!" /f >nul
  if errorlevel 1 goto failed
  reg add "!APP!\SupportedTypes" /v ".%%E" /d "" /f >nul
  if errorlevel 1 goto failed
)
echo isomount: "Mount with isomount" added for .iso .img .bin .cue .nrg .mdf .mds .ccd .cso .zso
echo isomount: it runs "!EXE!" open "IMAGE"
exit /b 0

:failed
echo install.cmd: reg add failed; run uninstall.cmd to remove what was added 1>&2
exit /b 1
