# Run by `cmake --install` and cpack (install(SCRIPT) in the top
# CMakeLists.txt) to install what depends on the prefix actually installed to,
# which cpack changes to /usr after configuration:
# - the systemd units, with ExecStart= naming <prefix>/bin/hydra-status;
# - the zsh completion, in the directory zsh searches for that prefix
#   (Debian's zsh searches /usr/share/zsh/vendor-completions, not
#   /usr/share/zsh/site-functions; HS_ZSH_COMPLETION_DIR overrides).
# Needs HS_SOURCE_DIR, HS_STAGE_DIR (in the build tree), HS_BINDIR (relative to
# the prefix unless absolute) and HS_ZSH_COMPLETION_DIR (may be empty), set by
# install(CODE) before it.

if(IS_ABSOLUTE "${HS_BINDIR}")
  set(_hs_bindir "${HS_BINDIR}")
else()
  set(_hs_bindir "${CMAKE_INSTALL_PREFIX}/${HS_BINDIR}")
endif()
# A private staging directory: an install and a cpack may run at once.
string(RANDOM LENGTH 10 _hs_random)
set(_hs_stage "${HS_STAGE_DIR}/${_hs_random}")
file(MAKE_DIRECTORY "${_hs_stage}/system" "${_hs_stage}/user")

set(HS_BINDIR_FULL "${_hs_bindir}")
configure_file("${HS_SOURCE_DIR}/contrib/systemd/hydra-status-sync.service.in"
               "${_hs_stage}/system/hydra-status-sync.service" @ONLY)
configure_file("${HS_SOURCE_DIR}/contrib/systemd/hydra-status-sync-user.service.in"
               "${_hs_stage}/user/hydra-status-sync.service" @ONLY)
configure_file("${HS_SOURCE_DIR}/contrib/systemd/hydra-status-sync.timer"
               "${_hs_stage}/system/hydra-status-sync.timer" COPYONLY)
configure_file("${HS_SOURCE_DIR}/contrib/systemd/hydra-status-sync.timer"
               "${_hs_stage}/user/hydra-status-sync.timer" COPYONLY)

# systemd searches <prefix>/lib/systemd/{system,user} for /usr and /usr/local.
file(INSTALL "${_hs_stage}/system/" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${_hs_stage}/user/" DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/user"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${HS_SOURCE_DIR}/contrib/systemd/hydra-status.sysusers"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d" RENAME hydra-status.conf
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

set(_hs_zsh_dir "${HS_ZSH_COMPLETION_DIR}")
if(_hs_zsh_dir STREQUAL "")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND EXISTS /etc/debian_version)
    set(_hs_zsh_dir "share/zsh/vendor-completions")
  else()
    set(_hs_zsh_dir "share/zsh/site-functions")
  endif()
endif()
if(NOT IS_ABSOLUTE "${_hs_zsh_dir}")
  set(_hs_zsh_dir "${CMAKE_INSTALL_PREFIX}/${_hs_zsh_dir}")
endif()
file(INSTALL "${HS_SOURCE_DIR}/contrib/completions/_hydra-status" DESTINATION "${_hs_zsh_dir}"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

file(REMOVE_RECURSE "${_hs_stage}")
