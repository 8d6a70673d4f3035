// Loaded by .mocharc.json before every test file: runs in tests profile only the key (gaps and
// fold rows) unless a test asks for the full column profile (BQX_PROFILE=full, as
// test/embedded/profile.test.ts does on its narrow demo). The full profile of a 17,038-column
// output costs minutes of CPU on a shared 2-core machine and would push the suite over budget.
process.env.BQX_PROFILE ??= 'keys';
