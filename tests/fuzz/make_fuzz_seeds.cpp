// Writes a few valid inputs for each fuzzer into DIRECTORY/{idx,csv,checkpoint}.
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_model.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const fs::path root = argv[1];
  for (const char* folder : {"idx", "csv", "checkpoint"}) fs::create_directories(root / folder);
  std::string idx{'\0', '\0', '\x08', '\x02', '\0', '\0', '\0', '\x02', '\0', '\0', '\0', '\x03'};
  idx += "abcdef";
  std::ofstream(root / "idx" / "plain", std::ios::binary) << idx;
  gzFile gz = gzopen((root / "idx" / "gzip").c_str(), "wb");
  gzwrite(gz, idx.data(), static_cast<unsigned>(idx.size()));
  gzclose(gz);
  std::ofstream(root / "csv" / "header") << "x,y,z\n1,2.5,-3e2\n4, nan ,6\n";
  std::ofstream(root / "csv" / "plain") << "1,2\n3,4\n";
  FuzzModel saved;
  subgrad::nn::save(root / "checkpoint" / "adam", saved.model, saved.optimizer);
  return 0;
}
