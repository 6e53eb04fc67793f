# Cross build for arm64 on Debian (dev/check-distros arm64): the aarch64-linux-gnu toolchain of
# crossbuild-essential-arm64, the :arm64 -dev packages of multiarch (/usr/lib/aarch64-linux-gnu),
# headers shared with the host (/usr/include). dev/install-deps --cross-arm64 installs them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# The host's pkg-config, reading the target's .pc files only (Debian 12 has no
# aarch64-linux-gnu-pkg-config wrapper without more packages).
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
# Programs are the host's; libraries, headers and CMake packages the target's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
