"""Reads conan/conanfile.py against what laminar's CMake package gives a
consumer, without Conan (it cannot be installed here): the few conan modules
the recipe imports are replaced by small stand-ins, then the recipe's own
methods run and their results are compared.

    python3 check_conan_recipe.py <laminar source tree> <laminar's CMake PROJECT_VERSION>
"""
import importlib.util
import os
import sys
import types

sys.dont_write_bytecode = True  # nothing written into the source tree

source_dir, cmake_version = sys.argv[1], sys.argv[2]
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


class ConanException(Exception):
    pass


def load(_conanfile, path):
    with open(path, encoding="utf-8") as f:
        return f.read()


layouts = []
modules = {
    "conan": {"ConanFile": type("ConanFile", (), {})},
    "conan.errors": {"ConanException": ConanException},
    "conan.tools": {},
    "conan.tools.build": {"check_min_cppstd": lambda conanfile, cppstd: None},
    "conan.tools.files": {"copy": lambda *args, **kwargs: None, "load": load},
    "conan.tools.layout": {"basic_layout": lambda conanfile, src_folder=".": layouts.append(src_folder)},
}
for name, attrs in modules.items():
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module

spec = importlib.util.spec_from_file_location("laminar_conanfile", os.path.join(source_dir, "conan", "conanfile.py"))
recipe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recipe)
Recipe = recipe.LaminarConan


class Values:
    """Settings or options: attributes, get_safe, and del for config_options."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def get_safe(self, name):
        return self.__dict__.get(name)


class CppInfo:
    def __init__(self):
        self.system_libs, self.defines, self.properties = [], [], {}

    def set_property(self, name, value):
        self.properties[name] = value


def make(os_name="Linux", with_numa=True, with_uring=True, version=None):
    conanfile = Recipe()
    conanfile.recipe_folder = os.path.join(source_dir, "conan")
    conanfile.version = version
    conanfile.settings = Values(os=os_name)
    conanfile.options = Values(with_numa=with_numa, with_uring=with_uring)
    conanfile.cpp_info = CppInfo()
    return conanfile


# The version: read from include/laminar/version.hpp, as CMakeLists.txt does.
check("version" not in Recipe.__dict__, "the recipe writes a version of its own")
conanfile = make()
conanfile.set_version()
check(conanfile.version == cmake_version, "set_version() gives %r, CMake %r" % (conanfile.version, cmake_version))
try:
    make(version="0.0.999").set_version()
    failures.append("set_version() accepts a --version that the header does not say")
except ConanException:
    pass

# A header-only layout, with the sources at the source folder's root (where
# export_sources() puts include/ and LICENSE).
make().layout()
check(layouts == ["."], "layout() is not basic_layout with the sources at the root: %r" % layouts)

# cereal, as laminar's CMake target links cereal::cereal.
requires = []
conanfile = make()
conanfile.requires = lambda ref, **kwargs: requires.append((ref, kwargs))
conanfile.requirements()
check(any(ref.startswith("cereal/") and kwargs.get("transitive_headers") for ref, kwargs in requires),
      "cereal is not required with transitive headers: %r" % requires)

# The same names CMake exports: laminarConfig.cmake and laminar::laminar.
conanfile = make()
conanfile.package_info()
check(conanfile.cpp_info.properties.get("cmake_file_name") == "laminar", "cmake_file_name is not laminar")
check(conanfile.cpp_info.properties.get("cmake_target_name") == "laminar::laminar",
      "cmake_target_name is not laminar::laminar")

# Threads always; libnuma with with_numa, else LAMINAR_NO_NUMA; liburing with
# with_uring, else LAMINAR_NO_URING (what cmake/laminarSystemLibs.cmake does
# with LAMINAR_WITH_NUMA and LAMINAR_WITH_URING).
libs_cmake = load(None, os.path.join(source_dir, "cmake", "laminarSystemLibs.cmake"))
for define in ("LAMINAR_NO_NUMA", "LAMINAR_NO_URING"):
    check(define in libs_cmake, "cmake/laminarSystemLibs.cmake no longer defines %s" % define)
for with_numa, with_uring, libs, defines in (
        (True, True, ["pthread", "numa", "uring"], []),
        (False, True, ["pthread", "uring"], ["LAMINAR_NO_NUMA"]),
        (True, False, ["pthread", "numa"], ["LAMINAR_NO_URING"]),
        (False, False, ["pthread"], ["LAMINAR_NO_NUMA", "LAMINAR_NO_URING"])):
    conanfile = make(with_numa=with_numa, with_uring=with_uring)
    conanfile.package_info()
    what = "with_numa=%s with_uring=%s" % (with_numa, with_uring)
    check(conanfile.cpp_info.system_libs == libs,
          "%s: system_libs %r, not %r" % (what, conanfile.cpp_info.system_libs, libs))
    check(conanfile.cpp_info.defines == defines,
          "%s: defines %r, not %r" % (what, conanfile.cpp_info.defines, defines))
for option in ("with_numa", "with_uring"):
    check(Recipe.default_options.get(option) is True, "%s is not on by default" % option)

# Off Linux the options go away and the fallbacks are chosen.
conanfile = make(os_name="Windows")
conanfile.config_options()
for option in ("with_numa", "with_uring"):
    check(not hasattr(conanfile.options, option), "config_options() keeps %s off Linux" % option)
conanfile.package_info()
check(conanfile.cpp_info.defines == ["LAMINAR_NO_NUMA", "LAMINAR_NO_URING"] and
      conanfile.cpp_info.system_libs == [],
      "off Linux: defines %r, system_libs %r" % (conanfile.cpp_info.defines, conanfile.cpp_info.system_libs))

if failures:
    print("conan recipe: " + "\n  ".join(["disagrees with laminar's CMake package:"] + failures))
    sys.exit(1)
print("conan recipe: version %s, layout, cereal, system_libs and defines agree with CMake" % cmake_version)
