{
  "targets": [
    {
      "target_name": "vta_ocl",
      "sources": ["native/addon.cc", "native/cl_errors.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "CL_TARGET_OPENCL_VERSION=120"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"],
      "libraries": ["-lOpenCL"]
    }
  ]
}
