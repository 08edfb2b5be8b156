-- wrk script: the checkout mutation, each request with its own idempotency key, for a
-- digital SKU (no stock to run out). BAZAAR_BENCH_TOKEN and BAZAAR_BENCH_SKU come from the
-- environment.
dofile("scripts/bench/errors.lua")
local token = os.getenv("BAZAAR_BENCH_TOKEN")
local sku = os.getenv("BAZAAR_BENCH_SKU")
local counter = 0

function request()
  counter = counter + 1
  local body = string.format('{"query":"mutation { checkout(idempotencyKey: \\"bench-%d-%d-%d\\", input: {currency: \\"EUR\\", lines: [{skuId: \\"%s\\", quantity: 1}]}) { id total { amount } } }"}', id, counter, os.time(), sku)
  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
