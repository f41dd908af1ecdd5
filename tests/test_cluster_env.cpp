// cluster_env: rank discovery from the launchers' environments, in their order of precedence.
#include "comm/cluster_env.hpp"

#include <cstdlib>

#include <gtest/gtest.h>

#include <gapm/errors.hpp>

namespace {

using gapm::detail::discover_cluster_env;

class ClusterEnv : public ::testing::Test {
 protected:
  void SetUp() override { clear(); }
  void TearDown() override { clear(); }
  static void clear() {
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                             "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID",
                             "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_USE_AGENT_STORE"})
      ::unsetenv(name);
  }
};

TEST_F(ClusterEnv, NoLauncherMeansOneNode) {
  auto env = discover_cluster_env();
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.launcher, "none");
}

TEST_F(ClusterEnv, TorchrunComesFirstThenMpiThenSlurm) {
  ::setenv("SLURM_PROCID", "3", 1);
  ::setenv("SLURM_NTASKS", "8", 1);
  ::setenv("SLURM_LOCALID", "1", 1);
  EXPECT_EQ(discover_cluster_env().launcher, "srun");
  EXPECT_EQ(discover_cluster_env().local_rank, 1);
  ::setenv("OMPI_COMM_WORLD_RANK", "2", 1);
  ::setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  EXPECT_EQ(discover_cluster_env().launcher, "mpirun");
  EXPECT_EQ(discover_cluster_env().rank, 2);
  ::setenv("RANK", "1", 1);
  ::setenv("WORLD_SIZE", "2", 1);
  ::setenv("MASTER_ADDR", "10.1.2.3", 1);
  ::setenv("MASTER_PORT", "4000", 1);
  auto env = discover_cluster_env();
  EXPECT_EQ(env.launcher, "torchrun");
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.world_size, 2);
  EXPECT_EQ(env.master_addr, "10.1.2.3");
  EXPECT_EQ(env.master_port, 4000);
  ::setenv("TORCHELASTIC_USE_AGENT_STORE", "True", 1);
  EXPECT_EQ(discover_cluster_env().master_port, 4001);
}

TEST_F(ClusterEnv, MalformedVariablesAreNamed) {
  ::setenv("RANK", "one", 1);
  ::setenv("WORLD_SIZE", "2", 1);
  EXPECT_THROW((void)discover_cluster_env(), gapm::logic_error);
  ::setenv("RANK", "2", 1);
  try {
    (void)discover_cluster_env();
    ADD_FAILURE();
  } catch (const gapm::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("RANK=2 is not below WORLD_SIZE=2"), std::string::npos) << e.what();
  }
  ::setenv("RANK", "0", 1);
  ::setenv("MASTER_PORT", "70000", 1);
  EXPECT_THROW((void)discover_cluster_env(), gapm::logic_error);
}

}  // namespace
