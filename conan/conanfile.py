# Conan 2 recipe for laminar, a header-only C++20 stream-processing library.
#
# The recipe lives in conan/ of the laminar repository; its sources (the
# headers and the license) are taken from the repository root. From the root:
#
#   conan create conan --build=missing -s compiler.cppstd=20
import os

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.files import copy

required_conan_version = ">=2.0"


class LaminarConan(ConanFile):
    name = "laminar"
    version = "0.1.0"
    description = "Header-only C++20 stream processing"
    license = "Apache-2.0"
    topics = ("stream-processing", "dataflow", "header-only")
    package_type = "header-library"
    # Settings are only read to check the C++ standard; package_id() clears
    # them, so there is one package for every configuration.
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True

    def export_sources(self):
        # The recipe sits one level below the sources it packages.
        root = os.path.join(self.recipe_folder, os.pardir)
        copy(self, "include/*", root, self.export_sources_folder)
        copy(self, "LICENSE", root, self.export_sources_folder)

    def requirements(self):
        # Public headers include cereal's (checkpoint archives).
        self.requires("cereal/1.3.2", transitive_headers=True)

    def package_id(self):
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
