import { afterAll } from "bun:test"
import { stopTestServer } from "./Database.ts"

// Preloaded by bunfig.toml: this afterAll runs once, after every test file.
afterAll(() => stopTestServer())
