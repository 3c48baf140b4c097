// The fake provider (product.md section 7). Placeholder header; the mock lands with issue 2.
#pragma once
