# Runs at `cmake --install` time (install(SCRIPT)), so the units name the prefix actually installed
# into, also with `--prefix`. Needs GSSGATE_SOURCE_DIR, GSSGATE_SBINDIR (relative) from install(CODE).
set(prefix "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(GSSGATE_SYSCONFDIR "/etc/gssgate")  # the FHS place, as GNUInstallDirs does for /usr
else()
  set(GSSGATE_SYSCONFDIR "${CMAKE_INSTALL_PREFIX}/etc/gssgate")
endif()
set(GSSGATE_CONFIG "${GSSGATE_SYSCONFDIR}/gssgated.toml")
set(GSSGATED_PATH "${CMAKE_INSTALL_PREFIX}/${GSSGATE_SBINDIR}/gssgated")
foreach(unit gssgated.service gssgated.socket)
  message(STATUS "Installing: ${prefix}/lib/systemd/system/${unit}")
  configure_file("${GSSGATE_SOURCE_DIR}/systemd/${unit}.in" "${prefix}/lib/systemd/system/${unit}"
                 @ONLY)
endforeach()
message(STATUS "Installing: ${prefix}/lib/tmpfiles.d/gssgate.conf")
configure_file("${GSSGATE_SOURCE_DIR}/systemd/gssgate.tmpfiles.conf"
               "${prefix}/lib/tmpfiles.d/gssgate.conf" COPYONLY)
message(STATUS "Installing: ${prefix}/lib/sysusers.d/gssgate.conf")
configure_file("${GSSGATE_SOURCE_DIR}/systemd/gssgate.sysusers.conf"
               "${prefix}/lib/sysusers.d/gssgate.conf" COPYONLY)
# The least-privilege drop-in is an example to copy into /etc/systemd/system/gssgated.service.d/.
message(STATUS "Installing: ${prefix}/share/doc/gssgate/gssgated-unprivileged.conf")
configure_file("${GSSGATE_SOURCE_DIR}/systemd/gssgated-unprivileged.conf"
               "${prefix}/share/doc/gssgate/gssgated-unprivileged.conf" COPYONLY)
