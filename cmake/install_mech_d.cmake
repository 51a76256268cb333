# Runs at `cmake --install` time (install(SCRIPT)): writes the mech.d entry for gssgate's
# interposer, naming the module where this install put it. MIT reads only /etc/gss/mech.d; with a
# prefix other than /usr the file goes to PREFIX/etc/gss/mech.d, to be linked into /etc by hand
# (docs/transparent.md). Needs GSSGATE_SOURCE_DIR and GSSGATE_LIBDIR (relative) from install(CODE).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(mech_d "$ENV{DESTDIR}/etc/gss/mech.d")
else()
  set(mech_d "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/etc/gss/mech.d")
endif()
set(GSSGATE_INTERPOSER_OID "2.25.5955277318674287388")
set(GSSGATE_INTERPOSER_PATH "${CMAKE_INSTALL_PREFIX}/${GSSGATE_LIBDIR}/gssgate/gssgate-interposer.so")
message(STATUS "Installing: ${mech_d}/gssgate.conf")
configure_file("${GSSGATE_SOURCE_DIR}/client/interposer/gssgate.conf.in" "${mech_d}/gssgate.conf"
               @ONLY)
