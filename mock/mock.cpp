#include "mock/mock.hpp"
