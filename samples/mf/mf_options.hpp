// Command-line options of the MF sample (the --gapm.* options are gapm's and are skipped here).
#pragma once

#include <cstdint>
#include <string>

#include "mf_model.hpp"
#include "zipf_generator.hpp"

namespace mf {

enum class algorithm { dsgd, plain };

struct app_options {
  std::string data_dir;  ///< --data: folder with train.mmc and test.mmc
  algorithm training = algorithm::dsgd;
  int epochs = 3;
  std::uint32_t rank = 10;
  update_config update;              ///< --lr, --lambda, --adagrad-eps
  bool bold_driver = true;
  std::uint64_t lookahead = 1000;    ///< plain SGD: column intent this many points ahead
  std::uint32_t seed = 134827;       ///< model seed (AdaPM's default model_seed)
  bool intent = true;                ///< signal intent (rows for good, columns ahead)
  bool intent_next_block = false;    ///< DSGD: also signal the next sub-epoch's block
  double expect_loss_drop = 0;       ///< > 0: exit 1 unless final train loss < initial / this
  bool generate = false;             ///< --generate R C NNZ: rank 0 writes the data first
  generator_config generator;        ///< --zipf, --test-fraction, --data-seed
};

/// Reads the sample's options (`--name=value` or `--name value`). Throws
/// std::invalid_argument naming the option for an unknown option or a malformed value.
/// `--help` sets help = true.
app_options parse_app_options(int argc, const char* const* argv, bool& help);

/// The usage text.
std::string usage();

const char* algorithm_name(algorithm a);

}  // namespace mf
