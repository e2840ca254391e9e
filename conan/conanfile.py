# Conan 2 recipe for laminar, a header-only C++20 stream-processing library.
#
# The recipe lives in conan/ of the laminar repository; its sources (the
# headers and the license) are taken from the repository root. From the root:
#
#   conan create conan --build=missing -s compiler.cppstd=20
#
# What it declares matches what laminar's CMake package gives a consumer
# (tests/consumer): the target laminar::laminar, cereal, the threads library,
# libnuma or else the LAMINAR_NO_NUMA definition, and liburing or else the
# LAMINAR_NO_URING definition. Both are system libraries here, not Conan
# packages: with_numa=True and with_uring=True (the Linux defaults) need
# their development files (Debian: libnuma-dev, liburing-dev) on the
# consumer's machine; False builds the fallbacks without them (first-touch
# placement; checkpoints written with pwrite and fdatasync).
import os
import re

from conan import ConanFile
from conan.errors import ConanException
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy, load
from conan.tools.layout import basic_layout

required_conan_version = ">=2.0"


class LaminarConan(ConanFile):
    name = "laminar"
    # No version here: set_version() reads include/laminar/version.hpp, the
    # version's one source (CMakeLists.txt reads it too).
    description = "Header-only C++20 stream processing"
    license = "Apache-2.0"
    topics = ("stream-processing", "dataflow", "header-only")
    package_type = "header-library"
    # Settings are only read to check the C++ standard and the OS; package_id()
    # clears them, so there is one package for every configuration.
    settings = "os", "arch", "compiler", "build_type"
    options = {"with_numa": [True, False], "with_uring": [True, False]}
    default_options = {"with_numa": True, "with_uring": True}
    no_copy_source = True

    def set_version(self):
        # Runs where the recipe sits in the repository (conan create/export).
        header = load(self, os.path.join(self.recipe_folder, os.pardir, "include", "laminar", "version.hpp"))
        parts = []
        for part in ("MAJOR", "MINOR", "PATCH"):
            found = re.search(r"^#define LAMINAR_VERSION_%s (\d+)$" % part, header, re.MULTILINE)
            if not found:
                raise ConanException("include/laminar/version.hpp has no LAMINAR_VERSION_%s" % part)
            parts.append(found.group(1))
        version = ".".join(parts)
        if self.version and str(self.version) != version:
            raise ConanException("--version %s, but include/laminar/version.hpp says %s" % (self.version, version))
        self.version = version

    def export_sources(self):
        # The recipe sits one level below the sources it packages.
        root = os.path.join(self.recipe_folder, os.pardir)
        copy(self, "include/*", root, self.export_sources_folder)
        copy(self, "LICENSE", root, self.export_sources_folder)

    def config_options(self):
        # libnuma and liburing are Linux's; elsewhere the fallbacks are taken.
        if self.settings.os != "Linux":
            del self.options.with_numa
            del self.options.with_uring

    def layout(self):
        # The exported sources (include/, LICENSE) sit at the source folder's root.
        basic_layout(self)

    def requirements(self):
        # Public headers include cereal's (checkpoint archives).
        self.requires("cereal/1.3.2", transitive_headers=True)

    def package_id(self):
        # The headers are the same for every option: the options only change
        # what package_info() asks of the consumer's build.
        self.info.clear()

    def validate(self):
        if self.settings.get_safe("compiler.cppstd"):
            check_min_cppstd(self, 20)

    def package(self):
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))
        copy(self, "*.hpp", os.path.join(self.source_folder, "include"), os.path.join(self.package_folder, "include"))

    def package_info(self):
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.set_property("cmake_file_name", "laminar")
        self.cpp_info.set_property("cmake_target_name", "laminar::laminar")
        # The runtime's workers are std::threads pinned with pthread_setaffinity_np.
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs.append("pthread")
        if self.options.get_safe("with_numa"):
            self.cpp_info.system_libs.append("numa")
        else:
            self.cpp_info.defines.append("LAMINAR_NO_NUMA")
        if self.options.get_safe("with_uring"):
            self.cpp_info.system_libs.append("uring")
        else:
            self.cpp_info.defines.append("LAMINAR_NO_URING")
