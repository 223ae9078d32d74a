{
  "targets": [
    {
      "target_name": "vta_tsim",
      "sources": ["harness/tsim.cc", "harness/addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "target/verilator",
        "target/sv",
        "/usr/share/verilator/include",
        "/usr/share/verilator/include/vltstd"
      ],
      "libraries": [
        "<(module_root_dir)/target/verilator/VVTACore__ALL.a",
        "<(module_root_dir)/target/verilator/libverilated.a",
        "-lpthread"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"]
    }
  ]
}
