# `cmake --install BUILD [--prefix P]` (DESTDIR honoured): the binary, the systemd units, the
# sysusers.d and tmpfiles.d entries that make the user and the spool, and the configuration under
# VD_CONFIG_DIR. An existing videodrop.toml is never replaced; the reference is always refreshed.
include(GNUInstallDirs)
set(VD_CONFIG_DIR "/etc/videodrop" CACHE PATH "Where the installed units read the configuration")
set(VD_SYSTEMD_DIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" CACHE PATH "systemd unit folder")
set(VD_SYSUSERS_DIR "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d" CACHE PATH "sysusers.d folder")
set(VD_TMPFILES_DIR "${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d" CACHE PATH "tmpfiles.d folder")

install(TARGETS videodrop RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# The units in systemd/ name /usr/local/bin/videodrop and /etc/videodrop; the installed copies
# name where this install puts them.
foreach(unit videodrop.service videodrop-once.service videodrop-once.timer)
  file(READ ${CMAKE_SOURCE_DIR}/systemd/${unit} text)
  string(REPLACE "/usr/local/bin/videodrop" "${CMAKE_INSTALL_FULL_BINDIR}/videodrop" text "${text}")
  string(REPLACE "/etc/videodrop" "${VD_CONFIG_DIR}" text "${text}")
  file(WRITE ${CMAKE_BINARY_DIR}/systemd/${unit} "${text}")
  install(FILES ${CMAKE_BINARY_DIR}/systemd/${unit} DESTINATION ${VD_SYSTEMD_DIR})
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/systemd/videodrop.sysusers DESTINATION ${VD_SYSUSERS_DIR}
        RENAME videodrop.conf)
install(FILES ${CMAKE_SOURCE_DIR}/systemd/videodrop.tmpfiles DESTINATION ${VD_TMPFILES_DIR}
        RENAME videodrop.conf)

install(FILES ${CMAKE_SOURCE_DIR}/config/videodrop.example.toml DESTINATION ${VD_CONFIG_DIR})
install(CODE "
  set(dest \"\$ENV{DESTDIR}${VD_CONFIG_DIR}/videodrop.toml\")
  if(EXISTS \"\${dest}\")
    message(STATUS \"Kept: \${dest} (the new default is videodrop.example.toml)\")
  else()
    file(INSTALL \"${CMAKE_SOURCE_DIR}/config/videodrop.server.toml\"
         DESTINATION \"${VD_CONFIG_DIR}\" RENAME videodrop.toml)
  endif()
")
