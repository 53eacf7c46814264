/**
 * The admin key every test service starts with (as ADMIN_API_KEY), and that the helpers send by
 * default, so that suites written before API keys need not know about them. TEST_ADMIN_API_KEY
 * overrides it.
 */
export const testAdminKey = process.env.TEST_ADMIN_API_KEY ?? "dwk_test-admin-key-not-secret-0123456789abcdef"

/** The headers with the test key added, unless they already say something about authorization. */
export const withTestKey = (headers?: RequestInit["headers"]): Headers => {
  const merged = new Headers(headers)
  if (!merged.has("authorization")) merged.set("authorization", `Bearer ${testAdminKey}`)
  return merged
}
