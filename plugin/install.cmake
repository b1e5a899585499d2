# What an installed system needs besides the binaries: the configuration file, man pages, and
# (CREDENCE_INSTALL_SYSTEM_FILES, which the Debian package turns on) the systemd unit and the
# host configuration files that go into other packages' /etc directories (Exim's split
# configuration, rspamd, SpamAssassin). A source install into /usr/local leaves those off:
# docs/serve.md, docs/rspamd.md and docs/spamassassin.md copy them by hand.
option(CREDENCE_INSTALL_SYSTEM_FILES
  "Install the systemd unit and the Exim, rspamd and SpamAssassin configuration files" OFF)
set(CREDENCE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
  "Where the systemd unit goes (relative: under the prefix)")

set(CREDENCE_BIN "${CMAKE_INSTALL_FULL_BINDIR}/credence")
set(CREDENCE_SHARE "${CMAKE_INSTALL_FULL_DATADIR}/credence")
set(CREDENCE_GEN "${CMAKE_BINARY_DIR}/generated")
file(MAKE_DIRECTORY ${CREDENCE_GEN})

# /etc/credence/credence.toml and the man pages come from the built program itself
# (`credence config template`, `--help`; docs/man/make_man.py), so they cannot drift from it.
if(TARGET credence)
  find_package(Python3 COMPONENTS Interpreter)
  add_custom_command(
    OUTPUT ${CREDENCE_GEN}/credence.toml
    COMMAND credence config template > ${CREDENCE_GEN}/credence.toml
    DEPENDS credence VERBATIM)
  set(credence_generated ${CREDENCE_GEN}/credence.toml)
  if(Python3_Interpreter_FOUND)
    add_custom_command(
      OUTPUT ${CREDENCE_GEN}/credence.1 ${CREDENCE_GEN}/credence.toml.5
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/docs/man/make_man.py
              --credence $<TARGET_FILE:credence> --version ${PROJECT_VERSION}
              --out ${CREDENCE_GEN}
      DEPENDS credence ${CMAKE_SOURCE_DIR}/docs/man/make_man.py VERBATIM)
    list(APPEND credence_generated ${CREDENCE_GEN}/credence.1 ${CREDENCE_GEN}/credence.toml.5)
    install(FILES ${CREDENCE_GEN}/credence.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
    install(FILES ${CREDENCE_GEN}/credence.toml.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
  endif()
  add_custom_target(credence_generated_files ALL DEPENDS ${credence_generated})
  install(FILES ${CREDENCE_GEN}/credence.toml
    DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/credence)
endif()

if(CREDENCE_INSTALL_SYSTEM_FILES)
  # The unit of plugin/serve/credence.service with this prefix's binary, and the system's
  # resolvers (no --dns: /etc/resolv.conf, as Exim and rspamd) instead of the source
  # install's unbound on 127.0.0.1:53.
  file(READ ${CMAKE_SOURCE_DIR}/plugin/serve/credence.service unit)
  string(REPLACE "/usr/local/bin/credence" "${CREDENCE_BIN}" unit "${unit}")
  string(REPLACE " --dns 127.0.0.1:53" "" unit "${unit}")
  string(REPLACE "systemd service: /etc/systemd/system/credence.service" "systemd service, as packaged"
    unit "${unit}")
  file(WRITE ${CREDENCE_GEN}/credence.service "${unit}")
  install(FILES ${CREDENCE_GEN}/credence.service DESTINATION ${CREDENCE_SYSTEMD_UNIT_DIR})

  # Exim (Debian's split configuration): one macro, CREDENCE_ENABLE, turns the ACL on.
  configure_file(${CMAKE_SOURCE_DIR}/plugin/exim/05_credence_macros.in
    ${CREDENCE_GEN}/05_credence_macros @ONLY)
  install(FILES ${CREDENCE_GEN}/05_credence_macros
    DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/exim4/conf.d/main)

  # rspamd: the module under /usr/share, linked from rspamd's plugins.d; its section in
  # modules.d (read by rspamd's modules.conf); the settings in local.d.
  install(FILES ${CMAKE_SOURCE_DIR}/plugin/rspamd/credence.lua DESTINATION ${CREDENCE_SHARE}/rspamd)
  install(CODE "
    file(MAKE_DIRECTORY \"\$ENV{DESTDIR}${CMAKE_INSTALL_FULL_SYSCONFDIR}/rspamd/plugins.d\")
    file(CREATE_LINK \"${CREDENCE_SHARE}/rspamd/credence.lua\"
      \"\$ENV{DESTDIR}${CMAKE_INSTALL_FULL_SYSCONFDIR}/rspamd/plugins.d/credence.lua\" SYMBOLIC)")
  install(FILES ${CMAKE_SOURCE_DIR}/plugin/rspamd/rspamd.conf.local
    DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/rspamd/modules.d RENAME credence.conf)
  install(FILES ${CMAKE_SOURCE_DIR}/plugin/rspamd/local.d/credence.conf
    DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/rspamd/local.d)

  # SpamAssassin: the plugin under /usr/share; .pre and .cf in /etc/spamassassin naming it
  # and this prefix's credence.
  install(FILES ${CMAKE_SOURCE_DIR}/plugin/spamassassin/Credence.pm
    DESTINATION ${CREDENCE_SHARE}/spamassassin)
  file(READ ${CMAKE_SOURCE_DIR}/plugin/spamassassin/credence.pre pre)
  string(REPLACE "/etc/spamassassin/Credence.pm" "${CREDENCE_SHARE}/spamassassin/Credence.pm"
    pre "${pre}")
  file(WRITE ${CREDENCE_GEN}/credence.pre "${pre}")
  file(READ ${CMAKE_SOURCE_DIR}/plugin/spamassassin/credence.cf cf)
  string(REPLACE "/usr/local/bin/credence" "${CREDENCE_BIN}" cf "${cf}")
  file(WRITE ${CREDENCE_GEN}/credence.cf "${cf}")
  install(FILES ${CREDENCE_GEN}/credence.pre ${CREDENCE_GEN}/credence.cf
    DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/spamassassin)
endif()
