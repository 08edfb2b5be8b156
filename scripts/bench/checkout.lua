-- wrk script: the checkout mutation, each request with its own idempotency key, for a
-- digital SKU (no stock to run out), signed in as each buyer of BAZAAR_BENCH_TOKENS (session
-- tokens separated by commas) in turn. BAZAAR_BENCH_SKU comes from the environment too. The
-- key and the input go in variables, as GraphQL clients send arguments; BAZAAR_BENCH_INLINE=1
-- writes them into the text instead, one text per request.
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
  local key = string.format("bench-%d-%d-%d", id, counter, os.time())
  local body = graphql_body(
    'mutation Checkout($key: String!, $input: CheckoutInput!) { checkout(idempotencyKey: $key, input: $input) { id total { amount } } }',
    string.format('{"key":"%s","input":{"currency":"EUR","lines":[{"skuId":"%s","quantity":1}]}}', key, sku),
    string.format('mutation { checkout(idempotencyKey: \\"%s\\", input: {currency: \\"EUR\\", lines: [{skuId: \\"%s\\", quantity: 1}]}) { id total { amount } } }', key, sku))
  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
