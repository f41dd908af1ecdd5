// The job token's building blocks (comm/job_auth.hpp, comm/crypto.hpp): SHA-256 and HMAC
// against the published test vectors, hellos that prove exactly one thing, the gate that
// lets one connection per rank through, the log that names each source once, and the
// environment variable's checks.
#include "comm/job_auth.hpp"

#include <cstdlib>
#include <string>

#include <gapm/errors.hpp>

#include <gtest/gtest.h>

#include "comm/crypto.hpp"

namespace {

using namespace gapm::detail;

std::span<const std::uint8_t> bytes(std::string_view text) { return bytes_of(text); }

// The wrappers feed libsodium every part, in order (published vectors: FIPS 180-2, RFC 4231).
TEST(Crypto, Sha256OfThePartsMatchesTheFipsExamples) {
  EXPECT_EQ(to_hex(sha256({})), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256({bytes("a"), bytes(""), bytes("bc")})),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HmacOfThePartsMatchesRfc4231) {
  const std::vector<std::uint8_t> key1(20, 0x0b);
  EXPECT_EQ(to_hex(hmac_sha256(key1, {bytes("Hi There")})),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(to_hex(hmac_sha256(bytes("Jefe"), {bytes("what do ya want "), bytes("for nothing?")})),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const std::vector<std::uint8_t> long_key(131, 0xaa);  // longer than a block: hashed first
  EXPECT_EQ(to_hex(hmac_sha256(long_key, {bytes("Test Using Larger Than Block-Size Key - Hash Key First")})),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Crypto, ConstantTimeEqualComparesEveryByteAndTheLength) {
  EXPECT_TRUE(constant_time_equal(bytes("abcd"), bytes("abcd")));
  EXPECT_FALSE(constant_time_equal(bytes("abcd"), bytes("abce")));
  EXPECT_FALSE(constant_time_equal(bytes("abcd"), bytes("xbcd")));
  EXPECT_FALSE(constant_time_equal(bytes("abc"), bytes("abcd")));
}

TEST(Crypto, RandomBytesDiffer) {
  std::array<std::uint8_t, 32> a{}, b{};
  random_bytes(a);
  random_bytes(b);
  EXPECT_NE(a, b);
}

job_credentials credentials(int rank, const job_secret& secret, session_id session = {1, 2, 3}) {
  return {secret, session, rank, 3};
}

TEST(Hello, ProvesItsSenderToItsReceiverForItsPurposeOnly) {
  const auto secret = job_secret::generate();
  const auto hello = make_hello(credentials(1, secret), connection_purpose::data, 0);
  ASSERT_EQ(hello.size(), hello_bytes);
  std::string why;
  EXPECT_EQ(verify_hello(credentials(0, secret), connection_purpose::data, hello, why), 1) << why;
  EXPECT_FALSE(verify_hello(credentials(0, secret), connection_purpose::beat, hello, why));
  EXPECT_NE(why.find("another socket"), std::string::npos) << why;
  EXPECT_FALSE(verify_hello(credentials(2, secret), connection_purpose::data, hello, why));  // for node 0
  EXPECT_NE(why.find("meant for node 0"), std::string::npos) << why;
  EXPECT_FALSE(verify_hello(credentials(0, job_secret::generate()), connection_purpose::data, hello, why));
  EXPECT_NE(why.find("proof is wrong"), std::string::npos) << why;
  EXPECT_FALSE(verify_hello(credentials(0, secret, {9}), connection_purpose::data, hello, why));  // another run
  // Any flipped bit breaks it.
  for (std::size_t i = 0; i < hello.size(); ++i) {
    auto changed = hello;
    changed[i] ^= std::byte{0x01};
    EXPECT_FALSE(verify_hello(credentials(0, secret), connection_purpose::data, changed, why)) << "byte " << i;
  }
  // Nobody proves the receiver's own rank, even with the secret.
  const auto self = make_hello(credentials(0, secret), connection_purpose::data, 0);
  EXPECT_FALSE(verify_hello(credentials(0, secret), connection_purpose::data, self, why));
  // Two hellos of the same sender differ (fresh nonces).
  EXPECT_NE(make_hello(credentials(1, secret), connection_purpose::data, 0), hello);
}

TEST(ConnectionGate, OneConnectionPerRankAndNothingBeforeTheHello) {
  const auto secret = job_secret::generate();
  rejection_log log{0};
  connection_gate gate{connection_purpose::data, log};
  const std::vector<std::byte> frame(48, std::byte{1});
  const auto hello = make_hello(credentials(2, secret), connection_purpose::data, 0);
  using verdict = connection_gate::verdict;
  EXPECT_EQ(gate.admit("a", hello, {}).what, verdict::refused);  // no credentials yet
  gate.authenticate(credentials(0, secret));
  EXPECT_EQ(gate.admit("b", frame, {}).what, verdict::refused);  // no hello first
  const auto consumed = gate.admit("b", hello, {});
  EXPECT_EQ(consumed.what, verdict::consumed);
  EXPECT_EQ(consumed.sender, 2);
  const auto delivered = gate.admit("b", frame, {});
  EXPECT_EQ(delivered.what, verdict::deliver);
  EXPECT_EQ(delivered.sender, 2);
  // The same rank on another connection, even with a perfect hello: refused, and so is
  // everything that connection sends after.
  EXPECT_EQ(gate.admit("c", make_hello(credentials(2, secret), connection_purpose::data, 0), {}).what, verdict::refused);
  EXPECT_EQ(gate.admit("c", frame, {}).what, verdict::refused);
  EXPECT_EQ(log.count(), 4u);
  // Rank 1 may still prove itself.
  EXPECT_EQ(gate.admit("d", make_hello(credentials(1, secret), connection_purpose::data, 0), {}).sender, 1);
}

TEST(RejectionLog, NamesEachSourceOnceAndCountsEveryFrame) {
  rejection_log log{3};
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 5; ++i) log.reject([] { return "10.0.0.1"; }, "a frame", "no proof");
  log.reject([] { return "10.0.0.2"; }, "a frame", "no proof");
  for (std::size_t i = 0; i < rejection_log::max_logged + 10; ++i)
    log.reject([i] { return "10.1.0." + std::to_string(i); }, "a frame", "no proof");
  const std::string text = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(log.count(), 6 + rejection_log::max_logged + 10);
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, rejection_log::max_logged + 1) << text;  // 64 sources, then one line saying so
  EXPECT_NE(text.find("node 3: refused a frame from 10.0.0.1: no proof"), std::string::npos) << text;
}

TEST(JobSecret, ComesFromTheEnvironmentAndIsNeverRepeatedInErrors) {
  ::unsetenv(job_token_variable);
  EXPECT_FALSE(job_secret::from_env());
  ::setenv(job_token_variable, "", 1);
  EXPECT_FALSE(job_secret::from_env());
  ::setenv(job_token_variable, "short-secret", 1);
  try {
    (void)job_secret::from_env();
    ADD_FAILURE() << "a short token was accepted";
  } catch (const gapm::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("GAPM_JOB_TOKEN is 12 characters long"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("short-secret"), std::string::npos) << e.what();
  }
  ::setenv(job_token_variable, "a-long-enough-job-token", 1);
  const auto secret = job_secret::from_env();
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->to_hex(), job_secret::from_token("a-long-enough-job-token").to_hex());
  EXPECT_NE(secret->to_hex(), job_secret::from_token("a-long-enough-job-tokeN").to_hex());
  EXPECT_EQ(job_secret::from_hex(secret->to_hex())->to_hex(), secret->to_hex());
  EXPECT_FALSE(job_secret::from_hex("xyz"));
  ::unsetenv(job_token_variable);
}

}  // namespace
