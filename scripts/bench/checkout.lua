-- wrk script: the checkout mutation, each request with its own idempotency key, for a
-- digital SKU (no stock to run out), signed in as each buyer of BAZAAR_BENCH_TOKENS (session
-- tokens separated by commas) in turn. BAZAAR_BENCH_SKU comes from the environment too.
dofile("scripts/bench/errors.lua")
local tokens = {}
for token in string.gmatch(os.getenv("BAZAAR_BENCH_TOKENS"), "[^,]+") do
  table.insert(tokens, token)
end
local sku = os.getenv("BAZAAR_BENCH_SKU")
local counter = 0

function request()
  counter = counter + 1
  local token = tokens[counter % #tokens + 1]
  local body = string.format('{"query":"mutation { checkout(idempotencyKey: \\"bench-%d-%d-%d\\", input: {currency: \\"EUR\\", lines: [{skuId: \\"%s\\", quantity: 1}]}) { id total { amount } } }"}', id, counter, os.time(), sku)
  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
