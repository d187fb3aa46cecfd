# SPDX-License-Identifier: Apache-2.0
# cmake -DOUT=... -DVERSION=... -DCMAKE_SIZEOF_VOID_P=4|8 -P scripts/cmake-version-file.cmake
# Writes ggipcConfigVersion.cmake for a prebuilt libggipc of another architecture (the release tarballs).
include(CMakePackageConfigHelpers)
write_basic_package_version_file("${OUT}" VERSION "${VERSION}" COMPATIBILITY ExactVersion)
