# The version every program, the package and the man pages carry, from dev/version at each
# configure (how it is made: that script's header):
#   FLEET_VERSION      0.2.0+431.g1a2b3c4d5e6f
#   FLEET_DEB_VERSION  the same for the release built on, 0.2.0+431.g1a2b3c4d5e6f~deb12
# One generated source holds it, so that a new commit recompiles one file, not every one.
execute_process(COMMAND ${PROJECT_SOURCE_DIR}/dev/version
                OUTPUT_VARIABLE FLEET_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE
                COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${PROJECT_SOURCE_DIR}/dev/version --deb
                OUTPUT_VARIABLE FLEET_DEB_VERSION OUTPUT_STRIP_TRAILING_WHITESPACE
                COMMAND_ERROR_IS_FATAL ANY)
message(STATUS "fleet-dispatch ${FLEET_VERSION} (package ${FLEET_DEB_VERSION})")
# The scripts' --version, installed beside them (packaging/CMakeLists.txt).
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/generated/VERSION CONTENT "${FLEET_VERSION}\n")
configure_file(${PROJECT_SOURCE_DIR}/cmake/version.cpp.in
               ${PROJECT_BINARY_DIR}/generated/sys/version.cpp @ONLY)
